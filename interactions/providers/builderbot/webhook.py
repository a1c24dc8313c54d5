"""BuilderBot Cloud webhooks: reading `message.incoming` / `message.outgoing` deliveries into our WhatsApp records.

No official schema exists (providers.md §2), so this reader is deliberately tolerant: the `{eventName, data}` envelope,
a bare data object, a list of events, `event`/`type` instead of `eventName`; the number as digits, `+E.164` or a JID,
with `phone` / `key.remoteJid` fallbacks; media via `urlTempFile` (in `data` or top level) or `attachment[]`.
Only this module knows BuilderBot's field names."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from interactions.models import Direction
from interactions.services.inbound import NormalizedWhatsAppMessage

from ..base import PayloadUnreadable

MESSAGE_INCOMING = "message.incoming"
MESSAGE_OUTGOING = "message.outgoing"
HANDLED_EVENT_NAMES = frozenset({MESSAGE_INCOMING, MESSAGE_OUTGOING})

# Framework placeholders sent as the body of media messages: `_event_media__<uuid>`, `_event_voice_note__<uuid>`…
_PLACEHOLDER_RE = re.compile(r"^_event_([a-z_]+?)__[\w-]+$", re.IGNORECASE)


class BuilderBotPayloadUnreadable(PayloadUnreadable):
    """JSON, but not a BuilderBot event we can read (no customer number, not an object…)."""


@dataclass(frozen=True)
class BuilderBotEvent:
    event_name: str
    handled: bool
    message: NormalizedWhatsAppMessage | None = None
    project_id: str = ""


def _text(value: object) -> str:
    if value is None or isinstance(value, dict | list | bool):
        return ""
    return str(value).strip()


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def builderbot_events_split(body: object) -> list:
    """The events of one delivery: a list of event objects, or one object."""
    return list(body) if isinstance(body, list) else [body]


def _event_name(event: dict) -> str:
    for key in ("eventName", "event", "type"):
        name = _text(event.get(key))
        if name:
            return name
    # A bare data object (older or self-hosted hooks) is a customer's message.
    if any(key in event for key in ("from", "body", "phone", "remoteJid")):
        return MESSAGE_INCOMING
    return ""


def _data(event: dict) -> dict:
    data = event.get("data")
    return data if isinstance(data, dict) else event


def builderbot_event_identity(event: object) -> tuple[str, str]:
    """(event name, provider message id or "") for the idempotency key. Never raises."""
    if not isinstance(event, dict):
        return "", ""
    data = _data(event)
    message_id = (
        _text(data.get("id"))
        or _text(data.get("messageId"))
        or _text(data.get("message_id"))
        or _text(_dict(data.get("key")).get("id"))
        or _text(event.get("messageId"))
    )
    return _event_name(event), message_id


def _timestamp(value: object) -> datetime | None:
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        try:
            parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if number > 1e11:
        number /= 1000
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def builderbot_event_parse(event: object, *, provider: str = "builderbot") -> BuilderBotEvent:
    """Read one event. Unknown event names come back `handled=False`; a message event whose customer number cannot
    be found raises BuilderBotPayloadUnreadable."""
    if not isinstance(event, dict):
        raise BuilderBotPayloadUnreadable("the event is not a JSON object")
    name = _event_name(event)
    data = _data(event)
    project_id = _text(data.get("projectId")) or _text(event.get("projectId"))
    if name not in HANDLED_EVENT_NAMES:
        if not name:
            raise BuilderBotPayloadUnreadable("no `eventName` in the delivery")
        return BuilderBotEvent(name, handled=False, project_id=project_id)
    outgoing = name == MESSAGE_OUTGOING
    key = _dict(data.get("key"))
    number_fields = (
        ("to", "from", "phone", "remoteJid", "number") if outgoing else ("from", "phone", "remoteJid", "number")
    )
    phone = next((_text(data.get(field)) for field in number_fields if _text(data.get(field))), "")
    phone = phone or _text(key.get("remoteJid"))
    if not phone:
        raise BuilderBotPayloadUnreadable("no customer number (`from`, `phone` or `key.remoteJid`)")
    body = (_text(data.get("answer")) or _text(data.get("body"))) if outgoing else _text(data.get("body"))
    attachments = [item for item in data.get("attachment") or [] if isinstance(item, dict)]
    first = attachments[0] if attachments else {}
    media_url = _text(data.get("urlTempFile")) or _text(event.get("urlTempFile")) or _text(first.get("url"))
    media_type = _text(first.get("mimetype")) or _text(first.get("mime_type")) or _text(data.get("mimetype"))
    placeholder = _PLACEHOLDER_RE.match(body)
    if placeholder:
        body = "" if media_url else f"[{placeholder.group(1).lower()}]"
    _, message_id = builderbot_event_identity(event)
    message = NormalizedWhatsAppMessage(
        provider=provider,
        direction=Direction.OUTBOUND if outgoing else Direction.INBOUND,
        customer_phone=phone,
        body=body[:4096],
        media_url=media_url if media_url.startswith(("http://", "https://")) else "",
        media_type=media_type,
        provider_message_id=f"builderbot:{message_id}" if message_id else None,
        at=_timestamp(data.get("timestamp") or event.get("timestamp")),
    )
    return BuilderBotEvent(name, handled=True, message=message, project_id=project_id)
