import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.test import APIClient

from otp.models import OtpChallenge
from tests.support.fixtures import (  # noqa: F401 (shared fixtures)
    broker,
    celery_worker_factory,
    fake_twilio,
    sms_outbox,
)

CODE_RE = re.compile(r"\b(\d{6,10})\b")


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """DRF's throttle history lives in the cache; each test starts without it."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff_user(django_user_model):
    user = django_user_model.objects.create_user(username="otp-ops", password="unused-password-1", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="integration")[0])
    return user


@pytest.fixture
def api(staff_user):
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.fixture
def other_api(django_user_model):
    client = APIClient()
    user = get_user_model().objects.create_user(username="otp-other", password="unused-password-2")
    user.groups.add(Group.objects.get_or_create(name="integration")[0])
    client.force_authenticate(user)
    return client


def code_in(text: str) -> str:
    match = CODE_RE.search(text)
    assert match, "no code in the SMS body"
    return match.group(1)


def queued_code(challenge_id) -> str:
    """The code of a challenge whose SMS is still queued (the body leaves the database once it is sent)."""
    return code_in(OtpChallenge.objects.select_related("message").get(pk=challenge_id).message.body)


def wrong(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))
