"""The staff second factor (TOTP, django-otp): who must give it, and checking a code.

One rule for every way in: the admin's login form and `POST /api/auth/token` both ask `second_factor_needed`, and
both refuse a missing or wrong code with the same answer as a wrong password."""

import re

from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

_TOKEN_RE = re.compile(r"^[0-9]{6,8}$")


def second_factor_required() -> bool:
    """TOTP at sign-in: always with DEBUG off; with DEBUG on (local development) ADMIN_2FA_REQUIRED decides."""
    return bool(settings.ADMIN_2FA_REQUIRED or not settings.DEBUG)


def second_factor_needed(user) -> bool:
    """Whether this user must give a TOTP code to sign in: every console user, whenever the second factor is required
    (always with DEBUG off). A user without a device cannot sign in: give them one with `admin_totp_device`."""
    return second_factor_required()


def second_factor_verify(*, user, token: str) -> bool:
    """Check a TOTP code against the user's confirmed devices. Each device row is locked while it is checked, so a
    code accepted once cannot be accepted again by a concurrent request (django-otp records the last time step
    used), and django-otp's own throttling of repeated failures applies."""
    token = (token or "").strip()
    if not _TOKEN_RE.match(token):
        return False
    with transaction.atomic():
        for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).order_by("id"):
            allowed, _extra = device.verify_is_allowed()
            if allowed and device.verify_token(token):
                return True
    return False
