"""BuilderBot (WhatsApp): sending (client); the webhook (inbound) and its payload's fields (webhook)."""

from .client import BuilderBotWhatsAppBackend, builderbot_number

__all__ = ["BuilderBotWhatsAppBackend", "builderbot_number"]
