import json
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.support.fixtures import (  # noqa: F401 (shared fixtures)
    broker,
    celery_worker_factory,
    fake_twilio,
    sms_outbox,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "providers"
CONVERSATION = "conv_8901k5zvyjhmfg983brhmhkd98n6"  # the one of the initiation and post-call fixtures
CALLER = "+525512345678"  # canonical; tools also get it as 521… and JIDs
SEND = "/webhooks/elevenlabs/tools/otp/send"
VERIFY = "/webhooks/elevenlabs/tools/otp/verify"
INITIATION = "/webhooks/elevenlabs/initiation"
POST_CALL = "/webhooks/elevenlabs/call"
CODE_RE = re.compile(r"\b(\d{6,10})\b")


def fixture_json(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def code_in(text: str) -> str:
    match = CODE_RE.search(text)
    assert match, "no code in the SMS body"
    return match.group(1)


def spaced(code: str) -> str:
    return " ".join(code)


def dashed(code: str) -> str:
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def wrong(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def agent(settings):
    """The voice agent calling our tools with the token of its tool configuration."""
    client = APIClient()
    client.credentials(HTTP_X_WEBHOOK_TOKEN=settings.ELEVENLABS_WEBHOOK_TOKENS[0])
    return client
