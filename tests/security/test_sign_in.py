"""Items 1-3 of the security review: the staff second factor on every way in, tokens that can be revoked, and a
lockout that stops password guessing, on the admin login and the API token endpoint alike."""

import re
import time

import pytest
import requests

from audit.models import AuditLog
from tests.factories import PASSWORD, UserFactory

from .conftest import AdminBrowser, totp_device, totp_now

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

# Generous request throttles: these tests are about the lockout and the second factor, not the rate limits.
ENV = {"THROTTLE_RATE_AUTH": "1000/min", "THROTTLE_RATE_READS": "1000/min"}


def _token(server, **body) -> requests.Response:
    return requests.post(f"{server.url}/api/auth/token", json=body, timeout=10)


def _refresh(server, refresh: str) -> requests.Response:
    return requests.post(f"{server.url}/api/auth/token/refresh", json={"refresh": refresh}, timeout=10)


def _me(server, access: str) -> int:
    return requests.get(
        f"{server.url}/api/interactions", headers={"Authorization": f"Bearer {access}"}, timeout=10
    ).status_code


def _error(response) -> tuple[int, str, str]:
    error = response.json()["errors"][0]
    return response.status_code, error["code"], error["detail"]


# --- 1. the second factor on every way in -----------------------------------------------------------------------


def test_a_staff_user_gets_no_api_token_without_the_second_factor(prod_server):
    server = prod_server(ENV)
    admin = UserFactory(username="root", superuser=True)
    device = totp_device(admin)
    wrong_password = _token(server, username="root", password="not it")
    no_code = _token(server, username="root", password=PASSWORD)
    wrong_code = _token(server, username="root", password=PASSWORD, otp_token="000000")
    assert _error(wrong_password)[0] == 401
    # A right password with a missing or wrong code answers exactly what a wrong password answers.
    assert _error(no_code) == _error(wrong_password) == _error(wrong_code)
    assert _error(wrong_password)[1] == "invalid_credentials"
    time.sleep(1.5)  # django-otp throttles a device for a second after a wrong code
    granted = _token(server, username="root", password=PASSWORD, otp_token=totp_now(device))
    assert granted.status_code == 200, granted.text
    assert set(granted.json()) == {"access", "refresh"}
    assert _me(server, granted.json()["access"]) == 200


def test_a_staff_user_without_a_second_factor_device_gets_no_api_token(prod_server):
    server = prod_server(ENV)
    UserFactory(username="nodevice", roles=["supervisor"], staff=True)
    assert _error(_token(server, username="nodevice", password=PASSWORD))[1] == "invalid_credentials"


def test_a_console_user_who_is_not_staff_needs_the_second_factor_too(prod_server):
    # Reversed by the second attack round: a role group alone opens the API, so every console user gives the code.
    server = prod_server(ENV)
    user = UserFactory(username="agent.api", roles=["agent"])
    assert _error(_token(server, username="agent.api", password=PASSWORD))[1] == "invalid_credentials"
    device = totp_device(user)
    assert _token(server, username="agent.api", password=PASSWORD, otp_token=totp_now(device)).status_code == 200


def test_the_admin_does_not_tell_a_right_password_with_a_wrong_code_from_a_wrong_password(prod_server):
    server = prod_server(ENV)
    admin = UserFactory(username="root", superuser=True)
    totp_device(admin)

    def errors(password: str, code: str) -> list[str]:
        page = AdminBrowser(server.url).login("root", password, code)
        assert page.status_code == 200
        return re.findall(r'<p class="errornote">\s*(.*?)\s*</p>', page.text, re.S)

    assert errors("not it", "123456") == errors(PASSWORD, "123456") == errors(PASSWORD, "")
    assert errors("not it", "123456")


# --- 2. tokens that can be revoked ---------------------------------------------------------------------------------


def _pair(server, username: str = "agent.api") -> dict:
    from django.contrib.auth.models import User
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = User.objects.get(username=username)
    device = TOTPDevice.objects.filter(user=user).first() or totp_device(user)
    response = _token(server, username=username, password=PASSWORD, otp_token=totp_now(device))
    assert response.status_code == 200, response.text
    return response.json()


def test_a_refresh_token_rotates_and_works_once(prod_server):
    server = prod_server(ENV)
    UserFactory(username="agent.api", roles=["agent"])
    first = _pair(server)
    rotated = _refresh(server, first["refresh"])
    assert rotated.status_code == 200, rotated.text
    assert set(rotated.json()) == {"access", "refresh"}
    assert rotated.json()["refresh"] != first["refresh"]
    again = _refresh(server, first["refresh"])
    assert _error(again)[:2] == (401, "authentication_failed")
    # Using a spent refresh token again is what a thief does: the token it was rotated into is revoked too.
    assert _refresh(server, rotated.json()["refresh"]).status_code == 401
    assert AuditLog.objects.filter(action="auth.refresh_reused").exists()


def test_logout_revokes_the_refresh_token(prod_server):
    server = prod_server(ENV)
    UserFactory(username="agent.api", roles=["agent"])
    pair = _pair(server)
    out = requests.post(f"{server.url}/api/auth/logout", json={"refresh": pair["refresh"]}, timeout=10)
    assert out.status_code == 204, out.text
    assert _refresh(server, pair["refresh"]).status_code == 401


@pytest.mark.parametrize("change", ["password", "deactivation", "device_removal"])
def test_a_credential_change_ends_every_token_issued_before_it(prod_server, change):
    server = prod_server(ENV)
    user = UserFactory(username="agent.api", roles=["agent"])
    device = totp_device(user)
    pair = _token(server, username="agent.api", password=PASSWORD, otp_token=totp_now(device)).json()
    assert _me(server, pair["access"]) == 200
    if change == "password":
        user.set_password("a new long passphrase 7")
        user.save()
    elif change == "deactivation":
        user.is_active = False
        user.save()
    else:
        device.delete()
    assert _me(server, pair["access"]) == 401
    assert _refresh(server, pair["refresh"]).status_code == 401
    assert AuditLog.objects.filter(action="auth.tokens_revoked", target_id=str(user.pk)).exists()
    if change == "password":  # the new password gives new tokens that work
        fresh = _token(
            server, username="agent.api", password="a new long passphrase 7", otp_token=totp_now(device, offset_steps=1)
        )
        assert fresh.status_code == 200, fresh.text
        assert _me(server, fresh.json()["access"]) == 200


# --- 3. password guessing stops -----------------------------------------------------------------------------------

LOCKOUT = {**ENV, "LOGIN_FAILURE_LIMIT": "3", "LOGIN_LOCKOUT_MINUTES": "15"}


def test_api_token_guessing_locks_the_account_out(prod_server):
    server = prod_server(LOCKOUT)
    UserFactory(username="agent.api", roles=["agent"])
    # Two failures are answered as such; the third reaches the limit and is answered with the lockout.
    assert [_token(server, username="agent.api", password="guess").status_code for _ in range(3)] == [401, 401, 429]
    locked = _token(server, username="agent.api", password=PASSWORD)
    assert _error(locked)[:2] == (429, "locked_out")
    assert int(locked.headers["Retry-After"]) > 0
    record = AuditLog.objects.get(action="auth.locked_out")
    assert record.data["username"] == "agent.api" and record.ip_address == "127.0.0.1"


def test_guessing_many_accounts_from_one_address_locks_the_address_out(prod_server):
    server = prod_server(LOCKOUT)
    UserFactory(username="agent.api", roles=["agent"])
    assert [_token(server, username=f"someone{n}", password="guess").status_code for n in range(3)] == [401, 401, 429]
    assert _error(_token(server, username="agent.api", password=PASSWORD))[:2] == (429, "locked_out")


def test_admin_login_guessing_locks_out_and_a_wrong_code_counts_as_a_failure(prod_server):
    server = prod_server(LOCKOUT)
    admin = UserFactory(username="root", superuser=True)
    device = totp_device(admin)
    browser = AdminBrowser(server.url)
    # The right password with a wrong code: a failure like any other (the third reaches the limit).
    assert [browser.login("root", PASSWORD, "000000").status_code for _ in range(3)] == [200, 200, 429]
    locked = browser.login("root", PASSWORD, totp_now(device))
    assert locked.status_code == 429
    assert "root" not in AdminBrowser(server.url).session.cookies.get_dict()
    assert AuditLog.objects.filter(action="auth.locked_out").exists()
