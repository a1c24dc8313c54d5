"""BuilderBot (WhatsApp): sending (client); the inbound webhook parser lives beside it."""

from .client import BuilderBotWhatsAppBackend, builderbot_number

__all__ = ["BuilderBotWhatsAppBackend", "builderbot_number"]
