"""WhatsApp messages reported by the provider (the customer's messages, and the bot's replies): recorded on the
customer's open WhatsApp interaction."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from contactcenter.common.db import model_insert
from contactcenter.common.domain import InvalidInput
from contactcenter.common.pii import InvalidPhoneNumber, phone_address_for, phone_normalize

from ..models import Channel, Direction, Message, MessageStatus
from .conversations import interaction_open_or_continue, interaction_touch
from .messages import message_status_apply


@dataclass(frozen=True)
class NormalizedWhatsAppMessage:
    """One WhatsApp message as a provider reports it. `customer_phone` is the customer's number in any of the
    provider's spellings (digits, +E.164, a JID); `direction` is inbound (from the customer) or outbound (the bot)."""

    provider: str
    direction: str
    customer_phone: str
    body: str = ""
    media_url: str = ""
    media_type: str = ""
    provider_message_id: str | None = None
    at: datetime | None = None


# BuilderBot reports the messages we send through its API as `message.outgoing` too: one of ours with the same text,
# sent this recently on the same conversation, is that message, not a new one.
OUTBOUND_ECHO_WINDOW = timedelta(minutes=10)


def _outbound_echo(*, interaction_id: UUID | str, body: str, at: datetime) -> Message | None:
    if not body:
        return None
    echo = (
        Message.objects.filter(
            interaction_id=interaction_id,
            direction=Direction.OUTBOUND,
            body=body,
            created_at__gte=at - OUTBOUND_ECHO_WINDOW,
            status__in=(MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT),
        )
        .order_by("-created_at")
        .first()
    )
    if echo is not None:
        message_status_apply(message_id=echo.pk, status=MessageStatus.SENT, at=at)
    return echo


def whatsapp_message_record(*, message: NormalizedWhatsAppMessage) -> Message:
    """Open or continue the customer's WhatsApp interaction and record the message in it.

    An inbound message is `received`; an outbound one (the bot's reply, reported by the provider) is `sent`. A
    provider message id already recorded returns the message recorded then, and an outbound report of a message we
    sent ourselves (same text, same conversation, within OUTBOUND_ECHO_WINDOW) returns ours, moved to `sent`."""
    try:
        phone = phone_normalize(message.customer_phone)
    except InvalidPhoneNumber as exc:
        raise InvalidInput("The message has no valid customer phone number.", code="invalid_phone") from exc
    if message.direction not in (Direction.INBOUND, Direction.OUTBOUND):
        raise InvalidInput(f"Unknown message direction {message.direction!r}.", code="invalid_direction")
    if message.provider_message_id:
        existing = Message.objects.filter(provider_message_id=message.provider_message_id).first()
        if existing:
            return existing
    at = message.at or timezone.now()
    inbound = message.direction == Direction.INBOUND
    try:
        # A savepoint only where a concurrent copy can collide (the provider's message id is unique): a message
        # without one cannot, and the ledger's transaction is enough.
        with transaction.atomic(savepoint=bool(message.provider_message_id)):
            interaction, created = interaction_open_or_continue(
                channel=Channel.WHATSAPP,
                phone=phone,
                provider=message.provider,
                direction=message.direction,
                at=at,
                address=phone_address_for(message.customer_phone, phone),
                # An inbound message always moves the conversation's last activity: in the statement that finds it.
                touch=inbound,
            )
            if not inbound:
                echo = _outbound_echo(interaction_id=interaction.pk, body=message.body, at=at)
                if echo is not None:
                    return echo
            status = MessageStatus.RECEIVED if inbound else MessageStatus.SENT
            recorded = Message(
                interaction=interaction,
                channel=Channel.WHATSAPP,
                direction=message.direction,
                status=status,
                provider_status=status,
                from_phone=phone if inbound else "",
                to_phone="" if inbound else phone,
                body=message.body,
                media_url=message.media_url[:1000],
                media_type=message.media_type[:100],
                provider=message.provider,
                provider_message_id=message.provider_message_id or None,
                received_at=at if inbound else None,
                sent_at=None if inbound else at,
                status_changed_at=at,
            )
            model_insert(recorded)  # one INSERT, without the ORM's query building (the hot path of WhatsApp ingest)
            if not inbound and not created:
                interaction_touch(interaction_id=interaction.pk, at=at)
    except IntegrityError:
        # The same provider message id recorded concurrently: that one stands.
        existing = Message.objects.filter(provider_message_id=message.provider_message_id).first()
        if existing is None:
            raise
        return existing
    return recorded
