"""ElevenLabs Agents: post-call webhooks (`inbound`: the webhook; `webhook`: its payload's fields and signature), the
conversations API used for reconciliation (`client`), the voice agent's tool requests (`tools`)."""

from .client import (
    ConversationSummary,
    ElevenLabsApiError,
    ElevenLabsConversationsClient,
    conversation_as_webhook_payload,
)
from .webhook import (
    CALL_INITIATION_FAILURE,
    HANDLED_EVENT_TYPES,
    POST_CALL_AUDIO,
    POST_CALL_TRANSCRIPTION,
    ElevenLabsEvent,
    ElevenLabsPayloadUnreadable,
    SignatureCheck,
    elevenlabs_audio_scrub,
    elevenlabs_event_identity,
    elevenlabs_event_parse,
    elevenlabs_signature_check,
    elevenlabs_signature_compute,
)

__all__ = [
    "CALL_INITIATION_FAILURE",
    "HANDLED_EVENT_TYPES",
    "POST_CALL_AUDIO",
    "POST_CALL_TRANSCRIPTION",
    "ConversationSummary",
    "ElevenLabsApiError",
    "ElevenLabsConversationsClient",
    "ElevenLabsEvent",
    "ElevenLabsPayloadUnreadable",
    "SignatureCheck",
    "conversation_as_webhook_payload",
    "elevenlabs_audio_scrub",
    "elevenlabs_event_identity",
    "elevenlabs_event_parse",
    "elevenlabs_signature_check",
    "elevenlabs_signature_compute",
]
