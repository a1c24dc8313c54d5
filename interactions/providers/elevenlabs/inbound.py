"""ElevenLabs' post-call webhooks, from the raw request to the call's records.

authenticate (`ElevenLabs-Signature`, or our token) → read the JSON (or form) body, identity (event type +
conversation id) from its envelope → apply: the transcription or the initiation failure upserts the call, the audio is
stored as the call's recording and scrubbed out of the stored payload. The payload's field names are `webhook`'s."""

import hashlib
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from interactions.models import Channel
from interactions.services import call_recording_attach, call_upsert

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
    WebhookDocs,
)
from ..bodies import FORM_TYPE, JSON_TYPE, body_hash, form_body_read, idempotency_key, json_body_read
from .webhook import (
    POST_CALL_AUDIO,
    ElevenLabsPayloadUnreadable,
    elevenlabs_audio_scrub,
    elevenlabs_event_identity,
    elevenlabs_event_parse,
    elevenlabs_signature_check,
)

SIGNATURE_HEADER = "ElevenLabs-Signature"


def elevenlabs_identity(payload: Any) -> Identity:
    """Event type + conversation id; a delivery without both is keyed by its content."""
    event_type, conversation_id = elevenlabs_event_identity(payload) if isinstance(payload, dict) else ("", "")
    if event_type and conversation_id:
        return Identity(
            event_type[:64],
            idempotency_key(event_type, conversation_id),
            conversation_id[:128],
            apply_costly=event_type == POST_CALL_AUDIO,
        )
    return Identity(
        event_type[:64], idempotency_key("body", body_hash(payload)), conversation_id[:128], content_keyed=True
    )


class ElevenLabsInbound(InboundProvider):
    name = "elevenlabs"
    label = "ElevenLabs"
    channel = Channel.CALL
    webhook_path = "elevenlabs/call"
    url_name = "elevenlabs-call"
    content_types = (JSON_TYPE, FORM_TYPE)
    signature_header = SIGNATURE_HEADER
    docs = WebhookDocs(
        operation_id="webhooks_elevenlabs_call",
        summary="ElevenLabs post-call webhooks",
        description="Post-call transcription, post-call audio (base64 MP3, may arrive chunked) and call initiation "
        "failures. Authenticated by `X-Webhook-Token` or a valid `ElevenLabs-Signature` (HMAC-SHA256 over "
        "`t.body`, 30-minute window). Unknown event types are stored as `ignored`.",
        request={JSON_TYPE: {"type": "object", "additionalProperties": {}}},
    )

    def record_provider(self) -> str:
        return settings.ELEVENLABS_PROVIDER_NAME

    def headers_kept(self, request: HttpRequest) -> dict[str, str]:
        # Only the signature's timestamp: the MAC itself is of no use once checked.
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            return {}
        return {SIGNATURE_HEADER: ",".join(p.strip() for p in signature.split(",") if p.strip()[:2] == "t=")}

    def authenticate(self, request: HttpRequest, raw: bytes) -> AuthResult:
        secrets = settings.ELEVENLABS_WEBHOOK_SECRETS
        header = request.headers.get(SIGNATURE_HEADER)
        check = elevenlabs_signature_check(raw_body=raw, header=header, secrets=secrets) if secrets and header else None
        return auth_decide(
            request=request,
            token_ok=token_matches(presented_token(request, allow_query=False), settings.ELEVENLABS_WEBHOOK_TOKENS),
            tokens_configured=bool(settings.ELEVENLABS_WEBHOOK_TOKENS),
            signing_configured=bool(secrets),
            signature_present=bool(header),
            signature_ok=bool(check and check.valid),
            signature_reason=check.reason if check else "missing",
            mode=settings.ELEVENLABS_SIGNATURE_MODE,
        )

    def read(self, request: HttpRequest, raw: bytes) -> InboundBody:
        payload, changed = form_body_read(raw) if request.content_type == FORM_TYPE else json_body_read(raw)
        if not isinstance(payload, dict):
            raise BodyRejected(400, "invalid_payload", "The body must be a JSON object.")
        return InboundBody([InboundEvent(elevenlabs_identity(payload), payload)], changed=changed)

    def apply(self, *, payload: Any, received_at: datetime, record: Any = None) -> Outcome:
        parsed = elevenlabs_event_parse(payload, provider=settings.ELEVENLABS_PROVIDER_NAME)
        if not parsed.handled:
            return Outcome(OutcomeStatus.IGNORED, error=f"event type {parsed.event_type!r} is not handled")
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
            return Outcome(OutcomeStatus.PROCESSED, normalized=normalized, interaction_id=interaction.pk)
        if parsed.audio is None:  # a handled event is a call or its recording
            raise ElevenLabsPayloadUnreadable(f"no call and no recording in {parsed.event_type!r}")
        interaction, stored_as = call_recording_attach(audio=parsed.audio)
        reference = {
            "stored_as": stored_as,
            "bytes": len(parsed.audio.audio),
            "sha256": hashlib.sha256(parsed.audio.audio).hexdigest(),
        }
        return Outcome(
            OutcomeStatus.PROCESSED,
            normalized={"conversation_id": parsed.conversation_id, "recording": reference},
            interaction_id=interaction.pk,
            payload=elevenlabs_audio_scrub(payload, reference=reference),
        )
