import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from interactions.models import CallDetail, Interaction

ROLE_PERMS = {
    "supervisor": [
        "interactions.view_interaction",
        "interactions.change_interaction",
        "interactions.view_pii",
        "interactions.view_message",
        "interactions.view_calldetail",
        "otp.view_otpchallenge",
        "webhooks.view_interactionevent",
        "audit.view_auditlog",
    ],
    "agent": ["interactions.view_interaction", "interactions.change_interaction", "interactions.view_message"],
    "auditor": [
        "interactions.view_interaction",
        "interactions.view_message",
        "otp.view_otpchallenge",
        "webhooks.view_interactionevent",
        "audit.view_auditlog",
    ],
}


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def ensure_group(name: str) -> Group:
    """The accounts migration creates the groups; tests make sure they exist with the permissions they rely on."""
    group, _ = Group.objects.get_or_create(name=name)
    for perm in ROLE_PERMS.get(name, []):
        app_label, codename = perm.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return group


def create_staff(username: str, *roles: str, superuser: bool = False):
    """A staff user in the given role groups, with a TOTP device; the password is `pw-<username>-123`."""
    user_model = get_user_model()
    if superuser:
        user = user_model.objects.create_superuser(username=username, password=f"pw-{username}-123")
    else:
        user = user_model.objects.create_user(username=username, password=f"pw-{username}-123", is_staff=True)
    for role in roles:
        user.groups.add(ensure_group(role))
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return user


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


def make_interaction(*, channel="call", agent=None, phone="+5215512344321", status="open", **extra) -> Interaction:
    now = timezone.now()
    interaction = Interaction.objects.create(
        channel=channel,
        direction="inbound",
        status=status,
        customer_phone=phone,
        provider={"call": "elevenlabs", "whatsapp": "builderbot", "sms": "twilio"}[channel],
        external_id=extra.pop("external_id", None),
        assigned_agent=agent,
        started_at=now - timedelta(minutes=5),
        last_activity_at=now,
        **extra,
    )
    if channel == "call":
        CallDetail.objects.create(
            interaction=interaction,
            conversation_id=f"conv_{uuid.uuid4().hex[:20]}",
            duration_seconds=125,
            customer_number=phone,
            transcript=[
                {"role": "agent", "message": "Hello, how can I help?", "time_in_call_secs": 0},
                {"role": "user", "message": "My card was declined.", "time_in_call_secs": 4},
            ],
        )
    return interaction


def make_sms(interaction, *, status="sent", phone="+5215512344321", **fields):
    """An outbound SMS of the interaction (fields override the defaults)."""
    from interactions.models import Message

    return Message.objects.create(
        **{
            "interaction": interaction,
            "channel": "sms",
            "direction": "outbound",
            "status": status,
            "to_phone": phone,
            "provider": "twilio",
            **fields,
        }
    )


def make_otp_sms(interaction, *, status="delivered", code="493817", phone="+5215512344321"):
    """An OTP challenge and its (sensitive) SMS, as the OTP service records them."""
    from otp.models import OtpChallenge

    message = make_sms(
        interaction,
        status=status,
        phone=phone,
        body=f"Your code is {code}",
        is_sensitive=True,
        provider_message_id="SM1",
    )
    OtpChallenge.objects.create(
        phone=phone,
        purpose="login",
        code_hash="x",
        status="failed" if status in ("failed", "undelivered") else "approved",
        max_attempts=5,
        expires_at=interaction.started_at,
        message=message,
        interaction=interaction,
    )
    return message
