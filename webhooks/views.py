"""The providers' webhooks: one view for all of them, each instance given its provider from the registry
(`interactions.providers.registry`). Thin: check the size, authenticate, read the body, hand each event to the ledger.

Answers (the contract's): 401 for a missing or wrong token or signature (nothing stored), 400 when the body is not
JSON / form data at all (or is empty, or is a JSON value that is not an object, or nests deeper than 64 levels, or has
more form or query fields than DATA_UPLOAD_MAX_NUMBER_FIELDS), 413 for a body over the endpoint's limit, 415 for a
content type the endpoint does not take, 200 `{"status": "duplicate"}` for a repeat, and 200 with the stored event's
status otherwise (`processed`, `ignored`, `deferred`, or `failed` for a delivery we could not read).

A delivery PostgreSQL cannot store as it came (a lone UTF-16 surrogate, a NUL character, NaN, Infinity, a number out of
range) is stored all the same: its payload made storable (U+FFFD, null), its raw body kept beside it, applied as far
as it can be. The sender's `X-Idempotency-Key` goes to the ledger, which decides when it may stand in for an identity
(`webhooks.services.delivery_identity`).
"""

import functools
import re

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from contactcenter.common.context import request_client_ip
from contactcenter.common.errors import error_response
from contactcenter.common.openapi import required_body
from interactions.providers.auth import TOKEN_HEADER
from interactions.providers.base import BodyRejected, InboundProvider

from .auth import webhook_auth_record
from .counters import webhook_counter_increment
from .services import Delivery, webhook_delivery_receive

IDEMPOTENCY_HEADER = "X-Idempotency-Key"
# Headers worth keeping with the raw delivery, whoever sent it (never the token); each provider adds its own
# (`headers_kept`: signatures only as "present" or their timestamp).
KEPT_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Transfer-Encoding",
    "User-Agent",
    "X-Request-ID",
    IDEMPOTENCY_HEADER,
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
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The idempotency key of a delivery that has no identity of its own from the provider (one keyed by "
    "its content); ignored when it has one (a conversation id, a message id, a MessageSid and status).",
)


def _kept_headers(request, provider: InboundProvider) -> dict:
    kept = {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}
    return {**kept, **provider.headers_kept(request)}


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


def _too_large() -> BodyRejected:
    return BodyRejected(413, "payload_too_large", "The body is larger than accepted.")


class ProviderWebhookView(APIView):
    """One provider's webhook: `ProviderWebhookView.as_view(provider=...)`, or `provider_webhook_view(provider)` for
    the documented view the URL conf serves."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    provider: InboundProvider | None = None

    def post(self, request, *args, **kwargs):
        provider = self.provider
        django_request = request._request
        try:
            declared = int(django_request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > provider.body_limit():
            return self._body_error(_too_large())
        try:
            raw = django_request.body
        except RequestDataTooBig:
            return self._body_error(_too_large())
        if len(raw) > provider.body_limit():
            return self._body_error(_too_large())
        try:
            auth = provider.authenticate(django_request, raw)
        except BodyRejected as exc:  # a body that cannot even be read to check its signature
            return self._body_error(exc)
        webhook_auth_record(provider=provider.name, request=django_request, result=auth)
        if not auth.ok:
            return error_response(401, "not_authenticated", "Missing or invalid webhook token or signature.")
        content_type = django_request.content_type or ""
        try:
            if content_type and content_type not in provider.content_types and not content_type.endswith("+json"):
                raise BodyRejected(415, "unsupported_media_type", f"Content type {content_type!r} is not accepted.")
            if not raw.strip():
                raise BodyRejected(400, "empty_body", "The body is empty.")
            body = provider.read(django_request, raw)
        except BodyRejected as exc:
            return self._body_error(exc)
        raw_body = _raw_text(raw) if body.changed else None
        headers = _kept_headers(django_request, provider)
        sender_key = django_request.headers.get(IDEMPOTENCY_HEADER, "")
        results = [
            webhook_delivery_receive(
                delivery=Delivery(
                    provider=provider.name,
                    identity=event.identity,
                    payload=event.payload,
                    record=event.record,
                    content_type=django_request.META.get("CONTENT_TYPE", ""),
                    headers=headers,
                    signature_valid=auth.signature_valid,
                    remote_addr=request_client_ip(django_request),
                    raw_body=raw_body,
                    payload_storable=True,
                    sender_key=sender_key,
                    event_index=index,
                    event_count=len(body.events),
                )
            )
            for index, event in enumerate(body.events)
        ]
        if not body.batch:
            return Response({"status": results[0].status, "event_id": results[0].event_id})
        status = "duplicate" if results and all(r.duplicate for r in results) else "accepted"
        return Response({"status": status, "events": [{"status": r.status, "event_id": r.event_id} for r in results]})

    def handle_exception(self, exc):
        if isinstance(exc, TooManyFieldsSent):
            # A query string with more fields than Django reads (DRF reads it before anything else): the sender's
            # fault, a 400 before authentication, never a 500.
            return self._body_error(BodyRejected.too_many_fields())
        return super().handle_exception(exc)

    def _body_error(self, exc: BodyRejected):
        webhook_counter_increment(provider=self.provider.name, name="rejected_body")
        return error_response(exc.status, exc.code, exc.detail)


def provider_webhook_schema(provider: InboundProvider):
    """The provider's OpenAPI operation: its own id, words and body, the parameters and answers every webhook shares."""
    parameters = [TOKEN_PARAMETER]
    if provider.token_in_query:
        parameters.append(QUERY_TOKEN_PARAMETER)
    parameters.append(IDEMPOTENCY_PARAMETER)
    if provider.signature_header:
        parameters.append(
            OpenApiParameter(provider.signature_header, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)
        )
    docs = provider.docs
    return extend_schema(
        operation_id=docs.operation_id,
        summary=docs.summary,
        description=docs.description,
        tags=["webhooks"],
        auth=[],
        parameters=parameters,
        request={media_type: required_body(schema) for media_type, schema in docs.request.items()},
        responses={200: AckSerializer, **ERROR_RESPONSES},
    )


@functools.cache
def provider_webhook_view_class(provider: InboundProvider) -> type[ProviderWebhookView]:
    """The view of one provider, documented as its operation (one class per provider: the schema is per class)."""
    view_class = type(f"{type(provider).__name__}WebhookView", (ProviderWebhookView,), {"provider": provider})
    return extend_schema_view(post=provider_webhook_schema(provider))(view_class)


def provider_webhook_view(provider: InboundProvider):
    return provider_webhook_view_class(provider).as_view()
