"""Per provider: what identifies a delivery (idempotency key, event type, external reference) and how a stored event
is applied. The provider adapters in `interactions.providers` read the payloads; the services apply the records."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from interactions.providers.builderbot.webhook import (
    BuilderBotPayloadUnreadable,
    builderbot_event_identity,
    builderbot_event_parse,
)
from interactions.providers.elevenlabs import (
    ElevenLabsPayloadUnreadable,
    elevenlabs_audio_scrub,
    elevenlabs_event_identity,
    elevenlabs_event_parse,
)
from interactions.providers.twilio.callbacks import (
    StatusCallbackUnreadable,
    status_callback_parse,
    status_callback_sid,
    status_callback_status_word,
)
from interactions.services import call_recording_attach, call_upsert, message_status_apply, whatsapp_message_record

from .models import EventStatus, InteractionEvent

ELEVENLABS = "elevenlabs"
BUILDERBOT = "builderbot"
TWILIO = "twilio"

# Errors that mean "this delivery cannot be read": the event is stored `failed` with the reason, for replay.
UNREADABLE_ERRORS = (ElevenLabsPayloadUnreadable, BuilderBotPayloadUnreadable, StatusCallbackUnreadable)


@dataclass(frozen=True)
class Identity:
    """What identifies one delivery in the ledger.

    `content_keyed`: the key is a hash of the content, for deliveries without an identity of their own from the
    provider; only those may take the sender's `X-Idempotency-Key` instead (a header no signature covers never
    overrides a provider's own event id). `window_seconds` > 0: the content repeats legitimately (a customer
    answering "Sí" twice), so an identical delivery is a retry only within that many seconds of the one stored
    (the ledger adds a time bucket to the key, see `webhooks.services`)."""

    event_type: str
    idempotency_key: str
    external_ref: str = ""
    content_keyed: bool = False
    window_seconds: int = 0


@dataclass(frozen=True)
class Outcome:
    status: str
    error: str = ""
    normalized: dict = field(default_factory=dict)
    interaction_id: object = None
    external_ref: str | None = None
    payload: dict | None = None  # a replacement for the stored payload (the audio scrubbed out)


def body_hash(value) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    # surrogatepass: a lone surrogate (in a value nobody made storable first) must not make hashing fail.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _key(*parts: str) -> str:
    key = ":".join(parts)
    return key if len(key) <= 255 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


# --- identities ---------------------------------------------------------------------------------------------------
def elevenlabs_identity(payload) -> Identity:
    event_type, conversation_id = elevenlabs_event_identity(payload) if isinstance(payload, dict) else ("", "")
    if event_type and conversation_id:
        return Identity(event_type[:64], _key(event_type, conversation_id), conversation_id[:128])
    return Identity(event_type[:64], _key("body", body_hash(payload)), conversation_id[:128], content_keyed=True)


def builderbot_identity(event, *, repeat: int = 0) -> Identity:
    """The message id when the event has one. Else a hash of the event, within BUILDERBOT_DUPLICATE_WINDOW_SECONDS:
    the same text a minute later is another message. `repeat` numbers identical events within one delivery (a
    batch holding "Sí" twice holds two messages)."""
    event_name, message_id = builderbot_event_identity(event)
    if message_id:
        return Identity(event_name[:64], _key("id", message_id), message_id[:128])
    content = body_hash(event) + (f".{repeat}" if repeat else "")
    return Identity(
        event_name[:64],
        _key("body", content),
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


def twilio_identity(params: dict) -> Identity:
    sid, word = status_callback_sid(params), status_callback_status_word(params)
    event_type = f"message_status.{word}"[:64] if word else ""
    if sid and word:
        return Identity(event_type, _key(sid, word), sid[:128])
    return Identity(event_type, _key("body", body_hash(params)), sid[:128], content_keyed=True)


# --- apply --------------------------------------------------------------------------------------------------------
def elevenlabs_apply(event: InteractionEvent) -> Outcome:
    parsed = elevenlabs_event_parse(event.payload, provider=settings.ELEVENLABS_PROVIDER_NAME)
    if not parsed.handled:
        return Outcome(EventStatus.IGNORED, error=f"event type {parsed.event_type!r} is not handled")
    if parsed.call is not None:
        interaction = call_upsert(call=parsed.call)
        normalized = {
            "conversation_id": parsed.conversation_id,
            "status": parsed.call.status,
            "direction": parsed.call.direction,
            "duration_seconds": parsed.call.duration_seconds,
            "turns": len(parsed.call.transcript or []),
            "failure_reason": parsed.call.failure_reason,
        }
        return Outcome(EventStatus.PROCESSED, normalized=normalized, interaction_id=interaction.pk)
    interaction, stored_as = call_recording_attach(audio=parsed.audio)
    reference = {
        "stored_as": stored_as,
        "bytes": len(parsed.audio.audio),
        "sha256": hashlib.sha256(parsed.audio.audio).hexdigest(),
    }
    return Outcome(
        EventStatus.PROCESSED,
        normalized={"conversation_id": parsed.conversation_id, "recording": reference},
        interaction_id=interaction.pk,
        payload=elevenlabs_audio_scrub(event.payload, reference=reference),
    )


def builderbot_apply(event: InteractionEvent) -> Outcome:
    parsed = builderbot_event_parse(event.payload, provider=BUILDERBOT)
    if not parsed.handled:
        return Outcome(EventStatus.IGNORED, error=f"event {parsed.event_name!r} is not handled")
    message = whatsapp_message_record(message=parsed.message)
    normalized = {
        "message_id": str(message.pk),
        "direction": message.direction,
        "has_media": bool(message.media_url),
        "project_id": parsed.project_id,
    }
    return Outcome(EventStatus.PROCESSED, normalized=normalized, interaction_id=message.interaction_id)


def twilio_apply(event: InteractionEvent) -> Outcome:
    callback = status_callback_parse(event.payload)
    normalized = callback.as_dict()
    if callback.status is None:
        return Outcome(
            EventStatus.IGNORED,
            error=f"status {callback.provider_status!r} is not one we know",
            normalized=normalized,
            external_ref=callback.message_sid,
        )
    change = message_status_apply(
        provider_message_id=callback.message_sid,
        status=callback.status,
        at=event.received_at,
        provider_status=callback.provider_status,
        error_code=callback.error_code,
        error_message=callback.error_message,
    )
    if change.message is None:
        # Not recorded yet (the callback beat our own write of the SID): kept, and applied when the SID appears.
        return Outcome(
            EventStatus.DEFERRED,
            error="no message with this MessageSid yet",
            normalized=normalized,
            external_ref=callback.message_sid,
        )
    normalized["applied"] = change.applied
    normalized["message_id"] = str(change.message.pk)
    return Outcome(
        EventStatus.PROCESSED,
        normalized=normalized,
        interaction_id=change.message.interaction_id,
        external_ref=callback.message_sid,
    )


APPLIERS: dict[str, Callable[[InteractionEvent], Outcome]] = {
    ELEVENLABS: elevenlabs_apply,
    BUILDERBOT: builderbot_apply,
    TWILIO: twilio_apply,
}
