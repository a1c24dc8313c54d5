"""The registry is the one list of providers: every provider folder with an inbound side is in it, once. (That the
folders import nothing above `interactions` is the layers contract of pyproject.toml, run by tests/test_module_imports.py.)"""

from pathlib import Path

import interactions.providers
from interactions.providers.registry import providers

PROVIDERS_DIR = Path(interactions.providers.__file__).resolve().parent


def test_every_provider_folder_is_registered_once():
    folders = sorted(p.name for p in PROVIDERS_DIR.iterdir() if (p / "inbound.py").exists())
    registered = sorted(type(provider).__module__.split(".")[2] for provider in providers())
    assert folders == registered == ["builderbot", "elevenlabs", "twilio"]


def test_a_channel_sends_through_its_registered_provider_when_configured(settings):
    from interactions.models import Channel
    from interactions.providers.builderbot.client import BuilderBotWhatsAppBackend
    from interactions.providers.console import ConsoleBackend
    from interactions.providers.twilio.client import TwilioSmsBackend
    from interactions.services.delivery import delivery_backend_for

    settings.SMS_BACKEND = settings.WHATSAPP_BACKEND = "auto"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "token"
    settings.BUILDERBOT_API_KEY, settings.BUILDERBOT_PROJECT_ID = "key", "project"
    assert isinstance(delivery_backend_for(Channel.SMS), TwilioSmsBackend)
    assert isinstance(delivery_backend_for(Channel.WHATSAPP), BuilderBotWhatsAppBackend)
    settings.TWILIO_AUTH_TOKEN = settings.BUILDERBOT_PROJECT_ID = ""
    assert isinstance(delivery_backend_for(Channel.SMS), ConsoleBackend)
    assert isinstance(delivery_backend_for(Channel.WHATSAPP), ConsoleBackend)


def test_a_fourth_provider_sends_its_channel_through_the_registry(monkeypatch, settings):
    from interactions.providers import registry
    from interactions.providers.console import ConsoleBackend
    from interactions.services.conversations import channel_provider
    from interactions.services.delivery import delivery_backend_for

    class RcsBackend(ConsoleBackend):
        pass

    class RcsProvider(type(registry.PROVIDERS[-1])):  # a provider of a new channel, its send side only
        name = "rcs_vendor"
        channel = "rcs"

        def send_backend(self):
            return RcsBackend()

    monkeypatch.setattr(registry, "PROVIDERS", (*registry.PROVIDERS, RcsProvider()))
    settings.WHATSAPP_BACKEND = "auto"  # the setting of every channel that is not SMS
    assert isinstance(delivery_backend_for("rcs"), RcsBackend)
    assert channel_provider("rcs") == "rcs_vendor"
