"""The three provider webhooks. Thin: check the size, authenticate, read the body, hand the delivery to the ledger.

Answers (the contract's): 401 for a missing or wrong token or signature (nothing stored), 400 when the body is not
JSON / form data at all (or is empty, or is a JSON value that is not an object), 413 for a body over the endpoint's
limit, 415 for a content type the endpoint does not take, 200 `{"status": "duplicate"}` for a repeat, and 200 with the
stored event's status otherwise (`processed`, `ignored`, `deferred`, or `failed` for a delivery we could not read).
"""

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from contactcenter.common.errors import error_response

from .auth import (
    ELEVENLABS_SIGNATURE_HEADER,
    TOKEN_HEADER,
    TWILIO_SIGNATURE_HEADER,
    AuthResult,
    authenticate_builderbot,
    authenticate_elevenlabs,
    authenticate_twilio,
    client_ip,
)
from .counters import webhook_counter_increment
from .handlers import (
    BUILDERBOT,
    ELEVENLABS,
    TWILIO,
    Identity,
    builderbot_identity,
    elevenlabs_identity,
    twilio_identity,
)
from .services import Delivery, webhook_delivery_receive

JSON_TYPES = ("application/json",)
FORM_TYPE = "application/x-www-form-urlencoded"
IDEMPOTENCY_HEADER = "X-Idempotency-Key"
# Headers worth keeping with the raw delivery (never the token; signatures only as "present" or their timestamp).
KEPT_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Transfer-Encoding",
    "User-Agent",
    "X-Request-ID",
    IDEMPOTENCY_HEADER,
    "I-Twilio-Idempotency-Token",
    "X-Twilio-Webhooks-Signature-Settings",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
)

AckSerializer = inline_serializer(
    name="WebhookAck",
    fields={
        "status": serializers.ChoiceField(
            choices=["processed", "ignored", "deferred", "failed", "received", "duplicate", "accepted"],
            help_text="What became of the delivery; `duplicate` for a repeat, which changed nothing.",
        ),
        "event_id": serializers.UUIDField(required=False, help_text="The stored event (absent for a batch)."),
        "events": serializers.ListField(
            child=serializers.DictField(), required=False, help_text="One entry per event of a batch delivery."
        ),
    },
)
ErrorSerializer = inline_serializer(
    name="WebhookError",
    fields={
        "type": serializers.CharField(),
        "errors": serializers.ListField(child=serializers.DictField()),
    },
)
ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorSerializer, description="The body is empty, not JSON/form data, or not an object."),
    401: OpenApiResponse(ErrorSerializer, description="Missing or wrong token or signature; nothing was stored."),
    413: OpenApiResponse(ErrorSerializer, description="The body is larger than this endpoint accepts."),
    415: OpenApiResponse(ErrorSerializer, description="A content type this endpoint does not take."),
}
TOKEN_PARAMETER = OpenApiParameter(
    TOKEN_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False, description="The shared webhook token."
)
QUERY_TOKEN_PARAMETER = OpenApiParameter(
    "token",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    required=False,
    description="The token, for providers that cannot send headers (redacted from every log line).",
)
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Overrides the idempotency key derived from the delivery.",
)


class BodyRejected(Exception):
    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def _kept_headers(request) -> dict:
    kept = {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}
    signature = request.headers.get(ELEVENLABS_SIGNATURE_HEADER, "")
    if signature:
        kept[ELEVENLABS_SIGNATURE_HEADER] = ",".join(p.strip() for p in signature.split(",") if p.strip()[:2] == "t=")
    if TWILIO_SIGNATURE_HEADER in request.headers:
        kept[TWILIO_SIGNATURE_HEADER] = "present"
    return kept


def _form_dict(raw: bytes) -> dict:
    form = QueryDict(raw, encoding="utf-8")
    return {key: values[0] if len(values) == 1 else values for key, values in form.lists()}


def _parse_json(raw: bytes):
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BodyRejected(400, "invalid_json", "The body is not valid JSON.") from exc


class WebhookView(APIView):
    """Shared steps of the three webhooks. Subclasses say who the provider is and how to read and sign-check it."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    provider = ""
    content_types: tuple[str, ...] = JSON_TYPES

    def max_body_bytes(self) -> int:
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def authenticate_delivery(self, request, raw: bytes) -> AuthResult:
        raise NotImplementedError

    def read(self, request, raw: bytes) -> tuple[list[tuple[Identity, dict]], bool]:
        """((identity, payload) per event, whether the delivery was a batch); raises BodyRejected for a body that is
        not data at all."""
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        django_request = request._request
        try:
            declared = int(django_request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > self.max_body_bytes():
            return self._body_error(BodyRejected(413, "payload_too_large", "The body is larger than accepted."))
        try:
            raw = django_request.body
        except RequestDataTooBig:
            return self._body_error(BodyRejected(413, "payload_too_large", "The body is larger than accepted."))
        if len(raw) > self.max_body_bytes():
            return self._body_error(BodyRejected(413, "payload_too_large", "The body is larger than accepted."))
        auth = self.authenticate_delivery(django_request, raw)
        if not auth.ok:
            return error_response(401, "not_authenticated", "Missing or invalid webhook token or signature.")
        content_type = django_request.content_type or ""
        try:
            if content_type and content_type not in self.content_types and not content_type.endswith("+json"):
                raise BodyRejected(415, "unsupported_media_type", f"Content type {content_type!r} is not accepted.")
            if not raw.strip():
                raise BodyRejected(400, "empty_body", "The body is empty.")
            events, batch = self.read(django_request, raw)
        except BodyRejected as exc:
            return self._body_error(exc)
        override = django_request.headers.get(IDEMPOTENCY_HEADER, "").strip()[:200]
        results = []
        for index, (derived, payload) in enumerate(events):
            identity = derived
            if override:
                key = f"header:{override}" if len(events) == 1 else f"header:{override}:{index}"
                identity = Identity(derived.event_type, key, derived.external_ref)
            results.append(
                webhook_delivery_receive(
                    delivery=Delivery(
                        provider=self.provider,
                        identity=identity,
                        payload=payload,
                        content_type=django_request.META.get("CONTENT_TYPE", ""),
                        headers=_kept_headers(django_request),
                        signature_valid=auth.signature_valid,
                        remote_addr=client_ip(django_request) or None,
                    )
                )
            )
        if not batch:
            return Response({"status": results[0].status, "event_id": results[0].event_id})
        status = "duplicate" if results and all(r.duplicate for r in results) else "accepted"
        return Response({"status": status, "events": [{"status": r.status, "event_id": r.event_id} for r in results]})

    def _body_error(self, exc: BodyRejected):
        webhook_counter_increment(provider=self.provider, name="rejected_body")
        return error_response(exc.status, exc.code, exc.detail)


class ElevenLabsCallWebhookView(WebhookView):
    provider = ELEVENLABS
    content_types = (*JSON_TYPES, FORM_TYPE)

    def authenticate_delivery(self, request, raw):
        return authenticate_elevenlabs(request, raw)

    def read(self, request, raw):
        payload = _form_dict(raw) if request.content_type == FORM_TYPE else _parse_json(raw)
        if not isinstance(payload, dict):
            raise BodyRejected(400, "invalid_payload", "The body must be a JSON object.")
        return [(elevenlabs_identity(payload), payload)], False

    @extend_schema(
        operation_id="webhooks_elevenlabs_call",
        summary="ElevenLabs post-call webhooks",
        description="Post-call transcription, post-call audio (base64 MP3, may arrive chunked) and call initiation "
        "failures. Authenticated by `X-Webhook-Token` or a valid `ElevenLabs-Signature` (HMAC-SHA256 over "
        "`t.body`, 30-minute window). Unknown event types are stored as `ignored`.",
        tags=["webhooks"],
        auth=[],
        parameters=[
            TOKEN_PARAMETER,
            IDEMPOTENCY_PARAMETER,
            OpenApiParameter(ELEVENLABS_SIGNATURE_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False),
        ],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: AckSerializer, **ERROR_RESPONSES},
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class BuilderBotWhatsAppWebhookView(WebhookView):
    provider = BUILDERBOT

    def max_body_bytes(self) -> int:
        return 1024 * 1024  # message events are small; media comes as a URL

    def authenticate_delivery(self, request, raw):
        return authenticate_builderbot(request, raw)

    def read(self, request, raw):
        body = _parse_json(raw)
        if not isinstance(body, dict | list) or (isinstance(body, list) and not body):
            raise BodyRejected(400, "invalid_payload", "The body must be a JSON object or a list of them.")
        if isinstance(body, list) and not all(isinstance(item, dict) for item in body):
            raise BodyRejected(400, "invalid_payload", "Every event in the list must be a JSON object.")
        if isinstance(body, list):
            return [(builderbot_identity(event), event) for event in body], True
        return [(builderbot_identity(body), body)], False

    @extend_schema(
        operation_id="webhooks_builderbot_whatsapp",
        summary="BuilderBot WhatsApp webhooks",
        description="`message.incoming` and `message.outgoing` events (`{eventName, data}`, a bare data object, or a "
        "list of events). Authenticated by `X-Webhook-Token` or `?token=`. Other events are stored as `ignored`.",
        tags=["webhooks"],
        auth=[],
        parameters=[TOKEN_PARAMETER, QUERY_TOKEN_PARAMETER, IDEMPOTENCY_PARAMETER],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: AckSerializer, **ERROR_RESPONSES},
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class TwilioSmsStatusWebhookView(WebhookView):
    provider = TWILIO
    content_types = (FORM_TYPE, *JSON_TYPES)

    def max_body_bytes(self) -> int:
        return 64 * 1024  # a status callback is a few hundred bytes

    def authenticate_delivery(self, request, raw):
        params = None if request.content_type == "application/json" else QueryDict(raw, encoding="utf-8")
        return authenticate_twilio(request, raw, params)

    def read(self, request, raw):
        if request.content_type == "application/json":
            payload = _parse_json(raw)
            if not isinstance(payload, dict):
                raise BodyRejected(400, "invalid_payload", "The body must be a JSON object.")
            payload = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}
        else:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BodyRejected(400, "invalid_form", "The body is not form data.") from exc
            payload = _form_dict(raw)
            if not payload:
                raise BodyRejected(400, "invalid_form", "The body is not form data.")
        return [(twilio_identity(payload), payload)], False

    @extend_schema(
        operation_id="webhooks_twilio_sms_status",
        summary="Twilio SMS status callbacks",
        description="Form-encoded status callbacks. Authenticated by a valid `X-Twilio-Signature` (checked against "
        "PUBLIC_BASE_URL + path) or `X-Webhook-Token` / `?token=`. Statuses only move forward; a callback for a "
        "message not recorded yet is kept as `deferred` and applied when the message gets its SID.",
        tags=["webhooks"],
        auth=[],
        parameters=[
            TOKEN_PARAMETER,
            QUERY_TOKEN_PARAMETER,
            IDEMPOTENCY_PARAMETER,
            OpenApiParameter(TWILIO_SIGNATURE_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False),
        ],
        request={FORM_TYPE: OpenApiTypes.OBJECT},
        responses={200: AckSerializer, **ERROR_RESPONSES},
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
