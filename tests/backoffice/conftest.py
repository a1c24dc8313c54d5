"""Staff users of each role and their sessions in the back office (their data: tests/factories.py)."""

import pytest
from django.core.cache import cache
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def create_staff(username: str, *roles: str, superuser: bool = False):
    """A staff user in the given role groups, with a TOTP device; the password is tests.factories.PASSWORD."""
    return UserFactory(username=username, roles=roles, staff=True, superuser=superuser, totp=True)


@pytest.fixture
def make_staff(db):
    return create_staff


def totp_token(user) -> str:
    device = TOTPDevice.objects.get(user=user)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def login_verified(client, user):
    """Log in as if the password and the TOTP code had been given (the login form itself is tested separately)."""
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
    session.save()
    return client


@pytest.fixture
def staff_client(client):
    def as_user(user):
        return login_verified(client, user)

    return as_user
