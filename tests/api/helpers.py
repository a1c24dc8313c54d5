"""Callers of every role, shared by the API, accounts and metrics tests (their data: tests/factories.py)."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import ApiKey
from tests.factories import PASSWORD, UserFactory

ROLES = ("supervisor", "agent", "auditor", "integration")


def totp_code(user) -> str:
    """The current code of the user's authenticator (a device is given to them first if they have none)."""
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="phone", confirmed=True
    )
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def user_client(user) -> APIClient:
    """A client carrying a real JWT for the user (the console's way in: password and second factor)."""
    client = APIClient()
    response = client.post(
        "/api/auth/token",
        {"username": user.username, "password": PASSWORD, "otp_token": totp_code(user)},
        format="json",
    )
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def key_client(role: str, name: str = "client") -> tuple[APIClient, ApiKey]:
    api_key, key = ApiKey.objects.create_key(name=f"{name}-{role}", role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client, api_key


def role_client(role: str | None) -> APIClient:
    """Users for console roles, API keys for integration, no credentials for None."""
    if role is None:
        return APIClient()
    if role == "integration":
        return key_client(role)[0]
    return user_client(UserFactory(roles=[role]))


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Throttle history lives in the cache (Redis): every test starts without it. Used by the conftest files of
    tests/api, tests/accounts and tests/metrics."""
    cache.clear()
    yield
    cache.clear()
