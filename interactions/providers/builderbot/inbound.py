"""BuilderBot's WhatsApp webhooks, from the raw request to the conversation's messages.

authenticate (our token in the header or `?token=`: BuilderBot does not sign) → read the JSON body (one event or a
list of them), each event's identity from its message id or, lacking one, its content within a duplicate window →
apply: record the customer's (or the bot's) message. The payload's field names are `webhook`'s."""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from interactions.models import Channel
from interactions.services import whatsapp_message_record

from ..auth import auth_decide, presented_token, token_matches
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
from ..bodies import JSON_TYPE, body_hash, idempotency_key, json_body_read
from .webhook import BuilderBotPayloadUnreadable, builderbot_event_identity, builderbot_event_parse

_JSON_OBJECT = {"type": "object", "additionalProperties": {}}


def builderbot_identity(event: Any, *, repeat: int = 0) -> Identity:
    """The message id when the event has one. Else a hash of the event, within BUILDERBOT_DUPLICATE_WINDOW_SECONDS:
    the same text a minute later is another message. `repeat` numbers identical events within one delivery (a
    batch holding "Sí" twice holds two messages)."""
    event_name, message_id = builderbot_event_identity(event)
    if message_id:
        return Identity(event_name[:64], idempotency_key("id", message_id), message_id[:128])
    content = body_hash(event) + (f".{repeat}" if repeat else "")
    return Identity(
        event_name[:64],
        idempotency_key("body", content),
        content_keyed=True,
        window_seconds=max(1, settings.BUILDERBOT_DUPLICATE_WINDOW_SECONDS),
    )


def builderbot_identities(events: list) -> list[Identity]:
    """The identity of each event of one delivery, identical events without an id numbered apart."""
    seen: dict[str, int] = {}
    identities = []
    for event in events:
        identity = builderbot_identity(event)
        if identity.window_seconds:
            repeat = seen.get(identity.idempotency_key, 0)
            seen[identity.idempotency_key] = repeat + 1
            if repeat:
                identity = builderbot_identity(event, repeat=repeat)
        identities.append(identity)
    return identities


class BuilderBotInbound(InboundProvider):
    name = "builderbot"
    label = "BuilderBot"
    channel = Channel.WHATSAPP

    def send_backend(self) -> SendBackend | None:
        if not (settings.BUILDERBOT_API_KEY and settings.BUILDERBOT_PROJECT_ID):
            return None
        from .client import BuilderBotWhatsAppBackend

        return BuilderBotWhatsAppBackend()

    webhook_path = "builderbot/whatsapp"
    url_name = "builderbot-whatsapp"
    max_body_bytes = 1024 * 1024  # message events are small; media comes as a URL
    token_in_query = True
    docs = WebhookDocs(
        operation_id="webhooks_builderbot_whatsapp",
        summary="BuilderBot WhatsApp webhooks",
        description="`message.incoming` and `message.outgoing` events (`{eventName, data}`, a bare data object, or a "
        "list of events). Authenticated by `X-Webhook-Token` or `?token=`. Other events are stored as `ignored`.",
        request={JSON_TYPE: {"anyOf": [_JSON_OBJECT, {"type": "array", "items": _JSON_OBJECT, "minItems": 1}]}},
    )

    def authenticate(self, request: HttpRequest, raw: bytes) -> AuthResult:
        return auth_decide(
            request=request,
            token_ok=token_matches(presented_token(request, allow_query=True), settings.BUILDERBOT_WEBHOOK_TOKENS),
            tokens_configured=bool(settings.BUILDERBOT_WEBHOOK_TOKENS),
            signing_configured=False,
            signature_present=False,
            signature_ok=False,
            signature_reason="",
            mode="enforce",
        )

    def read(self, request: HttpRequest, raw: bytes) -> InboundBody:
        body, changed = json_body_read(raw)
        if not isinstance(body, dict | list) or (isinstance(body, list) and not body):
            raise BodyRejected(400, "invalid_payload", "The body must be a JSON object or a list of them.")
        if isinstance(body, list) and not all(isinstance(item, dict) for item in body):
            raise BodyRejected(400, "invalid_payload", "Every event in the list must be a JSON object.")
        events = body if isinstance(body, list) else [body]
        return InboundBody(
            [
                InboundEvent(identity, event)
                for identity, event in zip(builderbot_identities(events), events, strict=True)
            ],
            batch=isinstance(body, list),
            changed=changed,
        )

    def apply(self, *, payload: Any, received_at: datetime, record: Any = None) -> Outcome:
        parsed = builderbot_event_parse(payload, provider=self.name)
        if not parsed.handled:
            return Outcome(OutcomeStatus.IGNORED, error=f"event {parsed.event_name!r} is not handled")
        if parsed.message is None:  # a handled event carries its message
            raise BuilderBotPayloadUnreadable(f"no message in {parsed.event_name!r}")
        message = whatsapp_message_record(message=parsed.message)
        normalized = {
            "message_id": str(message.pk),
            "direction": message.direction,
            "has_media": bool(message.media_url),
            "project_id": parsed.project_id,
        }
        return Outcome(OutcomeStatus.PROCESSED, normalized=normalized, interaction_id=message.interaction_id)
