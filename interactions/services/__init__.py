"""Business rules of interactions, messages and calls. Views, tasks, webhooks and commands call these.

One module per concern; everything public is re-exported here, so callers write `from interactions.services import …`.
"""

from .assignments import (
    ALLOWED_STATUS_TRANSITIONS,
    UNCHANGED,
    interaction_pii_reveal,
    interaction_update,
    interactions_pii_list_reveal,
)
from .calls import NormalizedCall, NormalizedCallAudio, call_recording_attach, call_upsert
from .conversations import (
    CONVERSATION_IDLE_TIMEOUT,
    OPEN_STATUSES,
    channel_provider,
    interaction_open_or_continue,
    interaction_touch,
)
from .delivery import (
    SENSITIVE_BODY_REDACTED,
    DeliveryOutcome,
    ReconcileReport,
    SweepReport,
    message_deliver,
    message_reconcile,
    message_sweep,
    sms_reconcile_run,
    sms_reconcile_stale,
)
from .inbound import NormalizedWhatsAppMessage, whatsapp_message_record
from .messages import MessageStatusChange, message_resend, message_send, message_status_apply
from .verification import interaction_verified_mark
from .voice import (
    CallerContext,
    phone_or_empty,
    spoken_digits,
    voice_call_number,
    voice_call_open,
    voice_call_verified_mark,
    voice_caller_context,
)

__all__ = [
    "ALLOWED_STATUS_TRANSITIONS",
    "CONVERSATION_IDLE_TIMEOUT",
    "OPEN_STATUSES",
    "SENSITIVE_BODY_REDACTED",
    "UNCHANGED",
    "CallerContext",
    "DeliveryOutcome",
    "MessageStatusChange",
    "NormalizedCall",
    "NormalizedCallAudio",
    "NormalizedWhatsAppMessage",
    "ReconcileReport",
    "SweepReport",
    "call_recording_attach",
    "call_upsert",
    "channel_provider",
    "interaction_open_or_continue",
    "interaction_pii_reveal",
    "interaction_touch",
    "interaction_update",
    "interaction_verified_mark",
    "interactions_pii_list_reveal",
    "message_deliver",
    "message_reconcile",
    "message_resend",
    "message_send",
    "message_status_apply",
    "message_sweep",
    "phone_or_empty",
    "sms_reconcile_run",
    "sms_reconcile_stale",
    "spoken_digits",
    "voice_call_number",
    "voice_call_open",
    "voice_call_verified_mark",
    "voice_caller_context",
    "whatsapp_message_record",
]
