"""The providers we take webhooks from: the one list.

A fourth provider is one new folder beside these (an `InboundProvider` in its `inbound.py`, its send backend in
`client.py`, returned by its `send_backend()`) and one line in PROVIDERS: its webhook route, its OpenAPI operation, the
ledger's applier, its counters, its name in the filters and the backend that sends its channel all come from here."""

from .base import InboundProvider
from .builderbot.inbound import BuilderBotInbound
from .elevenlabs.inbound import ElevenLabsInbound
from .twilio.inbound import TwilioInbound

PROVIDERS: tuple[InboundProvider, ...] = (
    ElevenLabsInbound(),
    BuilderBotInbound(),
    TwilioInbound(),
)


def providers() -> tuple[InboundProvider, ...]:
    return PROVIDERS


def provider_get(name: str) -> InboundProvider | None:
    return next((provider for provider in PROVIDERS if provider.name == name), None)


def provider_names() -> tuple[str, ...]:
    return tuple(provider.name for provider in PROVIDERS)


def provider_for_channel(channel: str) -> InboundProvider | None:
    """The provider whose deliveries are about `channel` (calls, WhatsApp, SMS)."""
    return next((provider for provider in PROVIDERS if provider.channel == channel), None)
