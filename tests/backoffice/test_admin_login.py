"""The admin asks staff for a password and a TOTP code; the code can be switched off only with DEBUG on."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.backoffice.conftest import totp_token
from tests.factories import PASSWORD

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _login(client, user, token=None):
    data = {"username": user.username, "password": PASSWORD, "next": "/admin/"}
    if token is not None:
        data["otp_token"] = token
    return client.post("/admin/login/", data)


def test_login_needs_the_totp_code(client, make_staff):
    user = make_staff("sup", "supervisor")
    page = client.get("/admin/login/")
    assert b'name="otp_token"' in page.content

    assert _login(client, user).status_code == 200  # no code: the form again
    assert client.get("/admin/").status_code == 302
    assert _login(client, user, "000000").status_code == 200  # wrong code
    assert client.get("/admin/").status_code == 302
    device = TOTPDevice.objects.get(user=user)
    assert device.throttling_failure_count == 1  # django-otp slows down guessing
    device.throttle_reset()

    response = _login(client, user, totp_token(user))
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_session_without_the_second_factor_is_not_let_in(client, make_staff):
    user = make_staff("sup", "supervisor")
    client.force_login(user)  # password only
    assert client.get("/admin/").status_code == 302


def test_staff_without_a_device_cannot_log_in(client, make_staff):
    user = make_staff("nodevice", "supervisor")
    TOTPDevice.objects.filter(user=user).delete()
    assert _login(client, user, "123456").status_code == 200
    assert client.get("/admin/").status_code == 302


@override_settings(DEBUG=True, ADMIN_2FA_REQUIRED=False)
def test_local_development_may_switch_the_second_factor_off(client, make_staff):
    user = make_staff("dev", "supervisor")
    assert b'name="otp_token"' not in client.get("/admin/login/").content
    assert _login(client, user).status_code == 302
    assert client.get("/admin/").status_code == 200


@override_settings(DEBUG=False, ADMIN_2FA_REQUIRED=False)
def test_the_switch_has_no_effect_in_production(client, make_staff):
    user = make_staff("prod", "supervisor")
    assert _login(client, user).status_code == 200
    assert client.get("/admin/").status_code == 302


def test_command_provisions_a_device_once(make_staff, capsys):
    user = make_staff("newsup", "supervisor")
    TOTPDevice.objects.filter(user=user).delete()
    call_command("admin_totp_device", "newsup", "--no-qr")
    out = capsys.readouterr().out
    assert "otpauth://totp/" in out
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
    with pytest.raises(CommandError):
        call_command("admin_totp_device", "newsup")
    call_command("admin_totp_device", "newsup", "--replace", "--no-qr")
    assert TOTPDevice.objects.filter(user=user).count() == 1
