"""The three provider webhooks. Thin: check the size, authenticate, read the body, hand the delivery to the ledger.

Answers (the contract's): 401 for a missing or wrong token or signature (nothing stored), 400 when the body is not
JSON / form data at all (or is empty, or is a JSON value that is not an object, or nests deeper than 64 levels, or has
more form or query fields than DATA_UPLOAD_MAX_NUMBER_FIELDS), 413 for a body over the endpoint's limit, 415 for a
content type the endpoint does not take, 200 `{"status": "duplicate"}` for a repeat, and 200 with the stored event's
status otherwise (`processed`, `ignored`, `deferred`, or `failed` for a delivery we could not read).

A delivery PostgreSQL cannot store as it came (a lone UTF-16 surrogate, a NUL character, NaN, Infinity, a number out of
range) is stored all the same: its payload made storable (U+FFFD, null), its raw body kept beside it, applied as far
as it can be. Only a provider's delivery without an identity of its own may take its key from `X-Idempotency-Key`.
"""

import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from contactcenter.common.errors import error_response
from contactcenter.common.openapi import required_body
from contactcenter.common.parsers import JSON_MAX_DEPTH, BodyUnreadable, form_body_load, json_body_parse, json_storable

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
    builderbot_identities,
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
    400: OpenApiResponse(
        ErrorSerializer,
        description="The body is empty, not JSON/form data, not an object, nested deeper than 64 levels, or has too "
        "many form or query fields.",
    ),
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
# The bodies each webhook reads: a JSON object (BuilderBot: or a non-empty list of them), or form fields (at least one).
JSON_OBJECT = {"type": "object", "additionalProperties": {}}
JSON_BODY = required_body(JSON_OBJECT)
BUILDERBOT_BODY = required_body({"anyOf": [JSON_OBJECT, {"type": "array", "items": JSON_OBJECT, "minItems": 1}]})
FORM_BODY = required_body({"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1})
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The idempotency key of a delivery that has no identity of its own from the provider (one keyed by "
    "its content); ignored when it has one (a conversation id, a message id, a MessageSid and status).",
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


@dataclass(frozen=True)
class Body:
    """What a webhook read from one delivery: (identity, payload) per event, made storable; whether it was a batch;
    whether making it storable changed anything (then the raw body is kept beside it)."""

    events: list[tuple[Identity, dict]]
    batch: bool = False
    changed: bool = False


def _form_dict(raw: bytes) -> tuple[dict, bool]:
    try:
        return form_body_load(raw)
    except BodyUnreadable as exc:
        raise BodyRejected(400, exc.code, exc.detail) from exc


def _parse_json(raw: bytes) -> tuple[object, bool]:
    """(the JSON value made storable, whether that changed anything); BodyRejected for a body that is not JSON or is
    nested too deep."""
    try:
        return json_storable(json_body_parse(raw), max_depth=JSON_MAX_DEPTH)
    except BodyUnreadable as exc:
        raise BodyRejected(400, exc.code, exc.detail) from exc


# What PostgreSQL text cannot hold: NUL, and the lone surrogates `surrogateescape` reads bytes that are not UTF-8 as.
_NOT_TEXT = re.compile("[\x00\udc80-\udcff]")


def _raw_text(raw: bytes) -> str:
    """The body as text PostgreSQL can store. A JSON body that parsed is UTF-8 without NUL (JSON escapes them), so it
    is kept exactly. A form body may hold a NUL byte or bytes that are not UTF-8: they are kept %-encoded, which a
    form decoder reads as the same bytes."""
    text = raw.decode("utf-8", "surrogateescape")
    if not _NOT_TEXT.search(text):
        return text
    return _NOT_TEXT.sub(lambda match: f"%{ord(match.group()) & 0xFF:02X}", text)


def _too_many_fields() -> BodyRejected:
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    return BodyRejected(400, "too_many_fields", f"More than {limit} form or query fields.")


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

    def read(self, request, raw: bytes) -> Body:
        """The delivery's events; raises BodyRejected for a body that is not data at all."""
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
        try:
            auth = self.authenticate_delivery(django_request, raw)
        except BodyRejected as exc:  # a body that cannot even be read to check its signature
            return self._body_error(exc)
        if not auth.ok:
            return error_response(401, "not_authenticated", "Missing or invalid webhook token or signature.")
        content_type = django_request.content_type or ""
        try:
            if content_type and content_type not in self.content_types and not content_type.endswith("+json"):
                raise BodyRejected(415, "unsupported_media_type", f"Content type {content_type!r} is not accepted.")
            if not raw.strip():
                raise BodyRejected(400, "empty_body", "The body is empty.")
            body = self.read(django_request, raw)
        except BodyRejected as exc:
            return self._body_error(exc)
        events, batch = body.events, body.batch
        raw_body = _raw_text(raw) if body.changed else None
        # The sender's key stands in only for a delivery without an identity of its own from the provider: a header
        # that no signature covers must not turn a replayed event into a new one.
        override = django_request.headers.get(IDEMPOTENCY_HEADER, "").strip()[:200]
        results = []
        for index, (derived, payload) in enumerate(events):
            identity = derived
            if override and derived.content_keyed:
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
                        raw_body=raw_body,
                        payload_storable=True,
                    )
                )
            )
        if not batch:
            return Response({"status": results[0].status, "event_id": results[0].event_id})
        status = "duplicate" if results and all(r.duplicate for r in results) else "accepted"
        return Response({"status": status, "events": [{"status": r.status, "event_id": r.event_id} for r in results]})

    def handle_exception(self, exc):
        if isinstance(exc, TooManyFieldsSent):
            # A query string with more fields than Django reads (DRF reads it before anything else): the sender's
            # fault, a 400 before authentication, never a 500.
            return self._body_error(_too_many_fields())
        return super().handle_exception(exc)

    def _body_error(self, exc: BodyRejected):
        webhook_counter_increment(provider=self.provider, name="rejected_body")
        return error_response(exc.status, exc.code, exc.detail)


class ElevenLabsCallWebhookView(WebhookView):
    provider = ELEVENLABS
    content_types = (*JSON_TYPES, FORM_TYPE)

    def authenticate_delivery(self, request, raw):
        return authenticate_elevenlabs(request, raw)

    def read(self, request, raw):
        payload, changed = _form_dict(raw) if request.content_type == FORM_TYPE else _parse_json(raw)
        if not isinstance(payload, dict):
            raise BodyRejected(400, "invalid_payload", "The body must be a JSON object.")
        return Body([(elevenlabs_identity(payload), payload)], changed=changed)

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
        request={"application/json": JSON_BODY},
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
        body, changed = _parse_json(raw)
        if not isinstance(body, dict | list) or (isinstance(body, list) and not body):
            raise BodyRejected(400, "invalid_payload", "The body must be a JSON object or a list of them.")
        if isinstance(body, list) and not all(isinstance(item, dict) for item in body):
            raise BodyRejected(400, "invalid_payload", "Every event in the list must be a JSON object.")
        events = body if isinstance(body, list) else [body]
        return Body(
            list(zip(builderbot_identities(events), events, strict=True)), batch=isinstance(body, list), changed=changed
        )

    @extend_schema(
        operation_id="webhooks_builderbot_whatsapp",
        summary="BuilderBot WhatsApp webhooks",
        description="`message.incoming` and `message.outgoing` events (`{eventName, data}`, a bare data object, or a "
        "list of events). Authenticated by `X-Webhook-Token` or `?token=`. Other events are stored as `ignored`.",
        tags=["webhooks"],
        auth=[],
        parameters=[TOKEN_PARAMETER, QUERY_TOKEN_PARAMETER, IDEMPOTENCY_PARAMETER],
        request={"application/json": BUILDERBOT_BODY},
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
        params = None
        if request.content_type != "application/json":
            # The signature covers the form's fields, so they are read before anything is trusted: with Django's
            # limit on their number (more is a 400, never a 500).
            try:
                params = QueryDict(raw, encoding="utf-8")
            except TooManyFieldsSent as exc:
                raise _too_many_fields() from exc
        return authenticate_twilio(request, raw, params)

    def read(self, request, raw):
        if request.content_type == "application/json":
            payload, changed = _parse_json(raw)
            if not isinstance(payload, dict):
                raise BodyRejected(400, "invalid_payload", "The body must be a JSON object.")
            payload = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}
        else:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BodyRejected(400, "invalid_form", "The body is not form data.") from exc
            payload, changed = _form_dict(raw)
            if not payload:
                raise BodyRejected(400, "invalid_form", "The body is not form data.")
        return Body([(twilio_identity(payload), payload)], changed=changed)

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
        request={FORM_TYPE: FORM_BODY},
        responses={200: AckSerializer, **ERROR_RESPONSES},
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
