"""Console backends for SMS and WhatsApp: log the message (masked, no body) and report it sent. Used in development
when no provider credentials are configured."""

import logging
import uuid

from contactcenter.common.pii import phone_mask

from .base import OutboundMessage, SendBackend, SendResult

logger = logging.getLogger("contactcenter.console_backend")


class ConsoleBackend(SendBackend):
    name = "console"

    def send(self, message: OutboundMessage) -> SendResult:
        logger.info(
            "console_message_sent",
            extra={
                "channel": message.channel,
                "to": phone_mask(message.to_phone),
                "message_id": message.message_id,
                "body_length": len(message.body),
                "has_media": bool(message.media_url),
            },
        )
        return SendResult(provider_message_id=f"console-{uuid.uuid4().hex}", status="sent", provider_status="console")
