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
