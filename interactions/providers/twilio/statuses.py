"""Twilio's message status words and what they mean in ours."""

from interactions.models import MessageStatus

# Twilio's enum (2010-04-01 API): queued, sending, sent, failed, delivered, undelivered, receiving, received,
# accepted, scheduled, read, partially_delivered (deprecated), canceled. Unknown future words map to None.
TWILIO_TO_MESSAGE_STATUS = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.SENDING,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "partially_delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
    "receiving": MessageStatus.RECEIVED,
    "received": MessageStatus.RECEIVED,
}


def message_status_from_twilio(word: str | None) -> str | None:
    """Our status for a Twilio status word, or None for a word we do not know (kept raw, never applied)."""
    return TWILIO_TO_MESSAGE_STATUS.get((word or "").strip().lower())
