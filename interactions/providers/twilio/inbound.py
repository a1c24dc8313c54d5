"""Twilio's SMS status callbacks, from the raw request to the message's status.

authenticate (`X-Twilio-Signature` over every received field, or our token) → read the form (or JSON) once into a
`NormalizedStatusCallback`, its identity (MessageSid + status word) taken from it → apply it with
`message_status_apply`, forward only. The callback's field names are `callbacks`' alone."""

import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.http import HttpRequest, QueryDict

from interactions.models import Channel
from interactions.services import message_status_apply

from ..auth import auth_decide, presented_token, public_url, token_matches
from ..base import (
    AuthResult,
    BodyRejected,
    Identity,
    InboundBody,
    InboundEvent,
    InboundProvider,
    Outcome,
    OutcomeStatus,
    SendBackend,
    WebhookDocs,
)
from ..bodies import FORM_TYPE, JSON_TYPE, body_hash, form_body_read, idempotency_key, json_body_read
from .callbacks import (
    NormalizedStatusCallback,
    StatusCallbackUnreadable,
    status_callback_parse,
    status_callback_sid,
    status_callback_signature_valid,
    status_callback_status_word,
)

WEBHOOK_PATH = "twilio/sms/status"  # under /webhooks/
SIGNATURE_HEADER = "X-Twilio-Signature"
# Twilio's own headers kept with the delivery (as they came: neither is a secret).
KEPT_HEADERS = ("I-Twilio-Idempotency-Token", "X-Twilio-Webhooks-Signature-Settings")


def status_callback_identity(params: dict[str, Any], callback: NormalizedStatusCallback | None) -> Identity:
    """MessageSid + status word; a callback without both (unreadable: `callback` None) is keyed by its content."""
    if callback is not None:
        sid, word = callback.message_sid, callback.provider_status
        return Identity(f"message_status.{word}"[:64], idempotency_key(sid, word), sid[:128])
    sid, word = status_callback_sid(params), status_callback_status_word(params)
    event_type = f"message_status.{word}"[:64] if word else ""
    return Identity(event_type, idempotency_key("body", body_hash(params)), sid[:128], content_keyed=True)


class TwilioInbound(InboundProvider):
    name = "twilio"
    label = "Twilio"
    channel = Channel.SMS
    webhook_path = WEBHOOK_PATH
    url_name = "twilio-sms-status"
    content_types = (FORM_TYPE, JSON_TYPE)
    max_body_bytes = 64 * 1024  # a status callback is a few hundred bytes
    token_in_query = True
    signature_header = SIGNATURE_HEADER

    def send_backend(self) -> SendBackend | None:
        if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
            return None
        from .client import twilio_sms_backend

        return twilio_sms_backend()

    docs = WebhookDocs(
        operation_id="webhooks_twilio_sms_status",
        summary="Twilio SMS status callbacks",
        description="Form-encoded status callbacks. Authenticated by a valid `X-Twilio-Signature` (checked against "
        "PUBLIC_BASE_URL + path) or `X-Webhook-Token` / `?token=`. Statuses only move forward; a callback for a "
        "message not recorded yet is kept as `deferred` and applied when the message gets its SID.",
        request={FORM_TYPE: {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1}},
    )

    def headers_kept(self, request: HttpRequest) -> dict[str, str]:
        kept = {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}
        if SIGNATURE_HEADER in request.headers:
            kept[SIGNATURE_HEADER] = "present"
        return kept

    def authenticate(self, request: HttpRequest, raw: bytes) -> AuthResult:
        is_json = request.content_type == JSON_TYPE
        params = None
        if not is_json:
            # The signature covers the form's fields, so they are read before anything is trusted: with Django's
            # limit on their number (more is a 400, never a 500).
            try:
                params = QueryDict(raw, encoding="utf-8")
            except TooManyFieldsSent as exc:
                raise BodyRejected.too_many_fields() from exc
        auth_token = settings.TWILIO_AUTH_TOKEN
        signature = request.headers.get(SIGNATURE_HEADER, "")
        valid = False
        if auth_token and signature:
            valid = status_callback_signature_valid(
                url=public_url(request),
                params=params,
                signature=signature,
                auth_token=auth_token,
                raw_body=raw if is_json else None,
            )
        return auth_decide(
            request=request,
            token_ok=token_matches(presented_token(request, allow_query=True), settings.TWILIO_WEBHOOK_TOKENS),
            tokens_configured=bool(settings.TWILIO_WEBHOOK_TOKENS),
            signing_configured=bool(auth_token),
            signature_present=bool(signature),
            signature_ok=valid,
            signature_reason="mismatch",
            mode=settings.TWILIO_SIGNATURE_MODE,
        )

    def read(self, request: HttpRequest, raw: bytes) -> InboundBody:
        if request.content_type == JSON_TYPE:
            payload, changed = json_body_read(raw)
            if not isinstance(payload, dict):
                raise BodyRejected(400, "invalid_payload", "The body must be a JSON object.")
            payload = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}
        else:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BodyRejected(400, "invalid_form", "The body is not form data.") from exc
            payload, changed = form_body_read(raw)
            if not payload:
                raise BodyRejected(400, "invalid_form", "The body is not form data.")
        try:
            callback = status_callback_parse(payload)
        except StatusCallbackUnreadable:
            callback = None  # stored all the same, keyed by its content; applying it fails with the reason
        return InboundBody(
            [InboundEvent(status_callback_identity(payload, callback), payload, callback)], changed=changed
        )

    def apply(self, *, payload: Any, received_at: datetime, record: NormalizedStatusCallback | None = None) -> Outcome:
        callback = record if record is not None else status_callback_parse(payload)
        normalized = callback.as_dict()
        if callback.status is None:
            return Outcome(
                OutcomeStatus.IGNORED,
                error=f"status {callback.provider_status!r} is not one we know",
                normalized=normalized,
                external_ref=callback.message_sid,
            )
        change = message_status_apply(
            provider_message_id=callback.message_sid,
            status=callback.status,
            at=received_at,
            provider_status=callback.provider_status,
            error_code=callback.error_code,
            error_message=callback.error_message,
        )
        if change.message is None:
            # Not recorded yet (the callback beat our own write of the SID): kept, and applied when the SID appears.
            return Outcome(
                OutcomeStatus.DEFERRED,
                error="no message with this MessageSid yet",
                normalized=normalized,
                external_ref=callback.message_sid,
            )
        normalized["applied"] = change.applied
        normalized["message_id"] = str(change.message.pk)
        return Outcome(
            OutcomeStatus.PROCESSED,
            normalized=normalized,
            interaction_id=change.message.interaction_id,
            external_ref=callback.message_sid,
        )
