"""Delivering a queued outbound message through its channel's backend."""

import logging

from django.conf import settings
from django.utils import timezone

from ..models import Channel, Message, MessageStatus
from ..providers.base import OutboundMessage, PermanentSendError, TransientSendError
from ..providers.console import ConsoleBackend
from ..signals import message_provider_id_assigned
from .messages import message_status_apply

logger = logging.getLogger(__name__)


def delivery_backend_for(channel: str):
    """The send backend of a channel, by SMS_BACKEND / WHATSAPP_BACKEND (`auto`: the provider when configured)."""
    choice = settings.SMS_BACKEND if channel == Channel.SMS else settings.WHATSAPP_BACKEND
    if choice == "console":
        return ConsoleBackend()
    if channel == Channel.SMS and settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN:
        from ..providers.twilio import TwilioSmsBackend

        return TwilioSmsBackend()
    if channel == Channel.WHATSAPP and settings.BUILDERBOT_API_KEY and settings.BUILDERBOT_PROJECT_ID:
        from ..providers.builderbot import BuilderBotWhatsAppBackend

        return BuilderBotWhatsAppBackend()
    return ConsoleBackend()


def message_deliver(*, message_id) -> str:
    """Send one queued message. Claims it (`queued` → `sending`) with a conditional UPDATE, so a second task for the
    same message does nothing. Returns what happened: `sent`, `skipped`, `failed` or `retry`."""
    now = timezone.now()
    claimed = Message.objects.filter(
        pk=message_id, status=MessageStatus.QUEUED, provider_message_id__isnull=True
    ).update(status=MessageStatus.SENDING, last_attempt_at=now, updated_at=now)
    if not claimed:
        return "skipped"
    message = Message.objects.get(pk=message_id)
    Message.objects.filter(pk=message_id).update(send_attempts=message.send_attempts + 1)
    backend = delivery_backend_for(message.channel)
    outbound = OutboundMessage(
        message_id=str(message.pk),
        channel=message.channel,
        to_phone=message.to_phone,
        body=message.body,
        media_url=message.media_url,
        is_sensitive=message.is_sensitive,
    )
    try:
        result = backend.send(outbound)
    except PermanentSendError as exc:
        message_status_apply(
            message_id=message.pk, status=MessageStatus.FAILED, error_code=exc.code, error_message=exc.detail
        )
        return "failed"
    except TransientSendError:
        # Back to `queued` so the retry (or the sweeper) can claim it again.
        Message.objects.filter(pk=message_id, status=MessageStatus.SENDING).update(status=MessageStatus.QUEUED)
        raise
    Message.objects.filter(pk=message_id).update(provider_message_id=result.provider_message_id)
    if result.provider_message_id:
        message_provider_id_assigned.send(
            sender=Message, message_id=message.pk, provider_message_id=result.provider_message_id
        )
    message_status_apply(
        message_id=message.pk,
        status=result.status if result.status != "queued" else "sending",
        provider_status=result.provider_status,
    )
    return "sent"
