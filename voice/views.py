"""The voice agent's endpoints: two ElevenLabs server tools (send a code to the caller, verify the digits they read)
and the conversation initiation webhook.

Thin: authenticate (the secret header, as for the other ElevenLabs endpoints; these requests carry no HMAC), read
the body tolerantly, call the service, answer. A tool always answers 200 with a JSON `result` the agent can read
(ElevenLabs hides tool errors from the agent by default), except 401 when the token is missing or wrong. The
initiation webhook always answers the full set of variables, empty ones when anything goes wrong: a failed
initiation webhook can keep the call from starting.

These are remote calls, not events: they are not stored in the webhook ledger (nothing to replay); the OTP challenge,
the call's interaction and the audit records are what they leave behind. One log line per request: tool, result,
conversation id and duration, never a number or a code."""

import logging
import time

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from contactcenter.common.context import request_client_ip
from contactcenter.common.errors import error_response
from contactcenter.common.parsers import JSON_MAX_DEPTH, BodyUnreadable, form_body_load, json_body_parse, json_storable
from interactions.providers.auth import TOKEN_HEADER, presented_token, token_matches
from interactions.providers.base import AuthResult
from interactions.providers.elevenlabs.tools import (
    initiation_request_parse,
    initiation_response_build,
    voice_tool_request_parse,
)
from interactions.services import CallerContext
from webhooks.auth import webhook_auth_decide

from .services import (
    ToolAnswer,
    initiation_variables,
    voice_initiation_answer,
    voice_otp_send,
    voice_otp_verify,
)

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # a tool call is a few hundred bytes


def voice_tool_authenticate(request) -> AuthResult:
    """`X-Webhook-Token` equal to one of ELEVENLABS_TOOL_TOKEN or ELEVENLABS_WEBHOOK_TOKEN (constant time). Refused,
    logged and counted otherwise; accepted with a warning only in development when no token is configured."""
    tokens = [*settings.ELEVENLABS_TOOL_TOKENS, *settings.ELEVENLABS_WEBHOOK_TOKENS]
    return webhook_auth_decide(
        provider="elevenlabs",
        request=request,
        token_ok=token_matches(presented_token(request, allow_query=False), tokens),
        tokens_configured=bool(tokens),
        signing_configured=False,
        signature_present=False,
        signature_ok=False,
        signature_reason="",
        mode="enforce",
    )


def _payload(request, raw: bytes):
    """The body as a dict made storable (see contactcenter.common.parsers: what it says is written to the database),
    or None when it is not a JSON object or form data, is nested too deep or has too many fields (the service then
    answers as for an empty request)."""
    try:
        if request.content_type == "application/x-www-form-urlencoded":
            return form_body_load(raw)[0]
        value = json_storable(json_body_parse(raw), max_depth=JSON_MAX_DEPTH)[0] if raw.strip() else {}
    except BodyUnreadable:
        return None
    return value if isinstance(value, dict) else None


class _VoiceEndpoint(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    name = ""

    def answer(self, payload, ip: str | None) -> tuple[str, str, dict]:
        """(result, conversation id, body)."""
        raise NotImplementedError

    def fallback(self) -> tuple[str, dict]:
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        return self._reply(request._request)

    def handle_exception(self, exc):
        if isinstance(exc, TooManyFieldsSent):
            # A query string with more fields than Django reads (DRF reads it first). The tools take nothing from
            # it: read as empty, and the request answered as one with a bad body (401 without the token).
            django_request = self.request._request
            django_request.GET = QueryDict()
            return self._reply(django_request, read_body=False)
        return super().handle_exception(exc)

    def _reply(self, django_request, *, read_body: bool = True):
        started = time.perf_counter()
        auth = voice_tool_authenticate(django_request)
        if not auth.ok:
            return error_response(401, "not_authenticated", "Missing or invalid webhook token.")
        conversation_id = ""
        try:
            declared = int(django_request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        try:
            raw = django_request.body if read_body and declared <= MAX_BODY_BYTES else b""
            payload = _payload(django_request, raw) if 0 < len(raw) <= MAX_BODY_BYTES else None
            result, conversation_id, body = self.answer(payload, request_client_ip(django_request))
        except Exception as exc:  # the agent must get an answer it can read, whatever broke
            logger.error("voice_tool_failed", extra={"tool": self.name, "error_class": type(exc).__name__})
            result, body = self.fallback()
        logger.info(
            "voice_tool",
            extra={
                "tool": self.name,
                "result": result,
                "conversation_id": conversation_id,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return Response(body)


# --- OpenAPI documentation ----------------------------------------------------------------------------------------
TOOL_TOKEN_PARAMETER = OpenApiParameter(
    TOKEN_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="ELEVENLABS_TOOL_TOKEN or ELEVENLABS_WEBHOOK_TOKEN (a secret header of the tool's configuration).",
)
ToolAnswerSerializer = inline_serializer(
    name="VoiceToolAnswer",
    fields={
        "result": serializers.CharField(help_text="What happened, one word (see the examples)."),
        "message": serializers.CharField(help_text="A sentence for the agent to act on; never the code."),
        "masked_phone": serializers.CharField(required=False),
        "expires_in_seconds": serializers.IntegerField(required=False),
        "code_length": serializers.IntegerField(required=False),
        "already_sent": serializers.BooleanField(required=False),
        "retry_after_seconds": serializers.IntegerField(required=False),
        "reason": serializers.CharField(required=False),
        "verified": serializers.BooleanField(required=False),
        "attempts_left": serializers.IntegerField(required=False),
    },
)
UNAUTHENTICATED = OpenApiResponse(
    inline_serializer(
        name="VoiceToolError",
        fields={"type": serializers.CharField(), "errors": serializers.ListField(child=serializers.DictField())},
    ),
    description="Missing or wrong token.",
)
SEND_REQUEST = inline_serializer(
    name="VoiceOtpSendRequest",
    fields={
        "conversation_id": serializers.CharField(help_text="Bind to the dynamic variable system__conversation_id."),
        "caller_id": serializers.CharField(help_text="Bind to the dynamic variable system__caller_id."),
        "phone_number": serializers.CharField(
            required=False, help_text="A number the caller spoke; used only if VOICE_OTP_ALLOW_SPOKEN_NUMBER is on."
        ),
        "language": serializers.CharField(required=False, help_text="SMS language (`es`, `en`)."),
    },
)
VERIFY_REQUEST = inline_serializer(
    name="VoiceOtpVerifyRequest",
    fields={
        "conversation_id": serializers.CharField(help_text="Bind to the dynamic variable system__conversation_id."),
        "caller_id": serializers.CharField(required=False, help_text="Bind to system__caller_id."),
        "code": serializers.CharField(
            help_text='The digits the caller read, as heard: "1 2 3 4 5 6", "123-456", 123456.'
        ),
    },
)
INITIATION_REQUEST = inline_serializer(
    name="VoiceInitiationRequest",
    fields={
        "caller_id": serializers.CharField(),
        "agent_id": serializers.CharField(required=False),
        "called_number": serializers.CharField(required=False),
        "call_sid": serializers.CharField(required=False, allow_blank=True),
        "conversation_id": serializers.CharField(required=False),
    },
)
INITIATION_ANSWER = inline_serializer(
    name="VoiceInitiationAnswer",
    fields={
        "type": serializers.CharField(help_text="Always `conversation_initiation_client_data`."),
        "dynamic_variables": inline_serializer(
            name="VoiceInitiationVariables",
            fields={
                "customer_known": serializers.BooleanField(),
                "customer_masked_phone": serializers.CharField(),
                "open_interactions": serializers.IntegerField(),
                "last_contact_channel": serializers.CharField(help_text="call, whatsapp, sms or empty."),
                "last_contact_date": serializers.CharField(help_text="YYYY-MM-DD (UTC) or empty."),
                "verification_pending": serializers.BooleanField(),
            },
        ),
    },
)


def _example(name: str, value: dict, *, request: bool = False) -> OpenApiExample:
    return OpenApiExample(name, value=value, request_only=request, response_only=not request)


class VoiceOtpSendToolView(_VoiceEndpoint):
    name = "otp_send"

    def answer(self, payload, ip):
        request = voice_tool_request_parse(payload)
        outcome: ToolAnswer = voice_otp_send(request=request, ip_address=ip)
        return outcome.result, request.conversation_id, outcome.body

    def fallback(self):
        return "unavailable", {
            "result": "unavailable",
            "message": "The code cannot be sent right now. Offer another way to verify.",
        }

    @extend_schema(
        operation_id="webhooks_elevenlabs_tool_otp_send",
        summary="Voice agent tool: send a verification code to the caller",
        description="An ElevenLabs server tool. The code goes by SMS to the number the call comes from (`caller_id`, "
        "bound to `system__caller_id`), bound to the conversation. Always 200 with a `result` for the agent: `sent`, "
        "`rate_limited`, `not_allowed`, `no_number`, `invalid_number`, `no_conversation` or `unavailable`. A repeat "
        "within VOICE_OTP_RESEND_WINDOW_SECONDS returns the code already sent (`already_sent: true`).",
        tags=["voice agent"],
        auth=[],
        parameters=[TOOL_TOKEN_PARAMETER],
        request={"application/json": SEND_REQUEST},
        responses={200: ToolAnswerSerializer, 401: UNAUTHENTICATED},
        examples=[
            _example(
                "Send",
                {"conversation_id": "conv_8901k5zvyjhmfg983brhmhkd98n6", "caller_id": "+5215512345678"},
                request=True,
            ),
            _example(
                "Sent",
                {
                    "result": "sent",
                    "masked_phone": "+52*******5678",
                    "expires_in_seconds": 300,
                    "code_length": 6,
                    "already_sent": False,
                    "message": "A 6-digit code was sent by SMS to the number ending in 5678. Ask the caller to read "
                    "it aloud; it expires in about 5 minutes.",
                },
            ),
            _example(
                "Rate limited",
                {
                    "result": "rate_limited",
                    "retry_after_seconds": 540,
                    "message": "Too many codes were requested for this number. A new one can be sent in about 9 "
                    "minutes.",
                },
            ),
            _example(
                "No number",
                {
                    "result": "no_number",
                    "message": "This call comes from a hidden or unknown number, so no code can be sent by SMS. "
                    "Offer another way to verify.",
                },
            ),
        ],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class VoiceOtpVerifyToolView(_VoiceEndpoint):
    name = "otp_verify"

    def answer(self, payload, ip):
        request = voice_tool_request_parse(payload)
        outcome = voice_otp_verify(request=request, ip_address=ip)
        return outcome.result, request.conversation_id, outcome.body

    def fallback(self):
        return "unavailable", {
            "result": "unavailable",
            "verified": False,
            "message": "The code cannot be checked right now. Do not treat the caller as verified.",
        }

    @extend_schema(
        operation_id="webhooks_elevenlabs_tool_otp_verify",
        summary="Voice agent tool: verify the code the caller read aloud",
        description="An ElevenLabs server tool. Checks the digits (spaces, dashes, numbers as strings or integers "
        "are fine) against the latest code sent in this conversation only. Always 200 with a `result`: `approved`, "
        "`wrong_code` (with `attempts_left`), `invalid_code` (not the right number of digits; no attempt used), "
        "`expired`, `locked`, `already_verified`, `no_challenge`, `delivery_failed`, `no_conversation` or "
        "`unavailable`. On approval the call's interaction records when and by which challenge the caller was "
        "verified.",
        tags=["voice agent"],
        auth=[],
        parameters=[TOOL_TOKEN_PARAMETER],
        request={"application/json": VERIFY_REQUEST},
        responses={200: ToolAnswerSerializer, 401: UNAUTHENTICATED},
        examples=[
            _example(
                "Verify",
                {"conversation_id": "conv_8901k5zvyjhmfg983brhmhkd98n6", "code": "4 8 1 2 9 0"},
                request=True,
            ),
            _example(
                "Approved",
                {"result": "approved", "verified": True, "message": "The code is correct: the caller is verified."},
            ),
            _example(
                "Wrong code",
                {
                    "result": "wrong_code",
                    "verified": False,
                    "attempts_left": 3,
                    "message": "That code is not correct. 3 more tries before it stops working.",
                },
            ),
            _example(
                "Locked",
                {
                    "result": "locked",
                    "verified": False,
                    "message": "Too many wrong codes: this code no longer works. Offer to send a new one.",
                },
            ),
        ],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


def _empty_initiation() -> dict:
    return initiation_response_build(
        dynamic_variables=initiation_variables(CallerContext(), verification_pending=False)
    )


class VoiceInitiationWebhookView(_VoiceEndpoint):
    name = "initiation"

    def answer(self, payload, ip):
        request = initiation_request_parse(payload)
        variables = voice_initiation_answer(request=request, ip_address=ip)
        result = "known" if variables["customer_known"] else "unknown"
        return result, request.conversation_id, initiation_response_build(dynamic_variables=variables)

    def fallback(self):
        return "defaults", _empty_initiation()

    @extend_schema(
        operation_id="webhooks_elevenlabs_initiation",
        summary="ElevenLabs conversation initiation webhook",
        description="Called by ElevenLabs when an inbound conversation starts. Answers the full set of dynamic "
        "variables, for unknown callers too: coarse facts about the calling number only (masked number, open "
        "interactions, last contact's channel and date, a pending verification), nothing that names the customer. "
        "With VOICE_INITIATION_SHARE_CONTEXT off every variable is empty. Never an error but 401.",
        tags=["voice agent"],
        auth=[],
        parameters=[TOOL_TOKEN_PARAMETER],
        request={"application/json": INITIATION_REQUEST},
        responses={200: INITIATION_ANSWER, 401: UNAUTHENTICATED},
        examples=[
            _example(
                "Initiation",
                {
                    "caller_id": "+5215512345678",
                    "agent_id": "agent_7101k5zvyjhmfg983brhmhkd98n6",
                    "called_number": "+5215587654321",
                    "call_sid": "CA9f3c2b1a0e8d7c6b5a4f3e2d1c0b9a8f",
                    "conversation_id": "conv_8901k5zvyjhmfg983brhmhkd98n6",
                },
                request=True,
            ),
            _example(
                "Known caller",
                {
                    "type": "conversation_initiation_client_data",
                    "dynamic_variables": {
                        "customer_known": True,
                        "customer_masked_phone": "+52*******5678",
                        "open_interactions": 1,
                        "last_contact_channel": "whatsapp",
                        "last_contact_date": "2026-11-20",
                        "verification_pending": False,
                    },
                },
            ),
            _example("Unknown caller", _empty_initiation()),
        ],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
