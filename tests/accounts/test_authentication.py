"""API keys, JWT, staff sessions and the role groups: 401 without or with bad credentials, what each scheme admits."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.admin.sites import site as admin_site
from django.contrib.auth.models import Group
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from audit.models import AuditLog
from backoffice.admin.accounts import ApiKeyAdmin
from tests.api.helpers import key_client, totp_code
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

LIST = "/api/interactions"


def _with_key(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def _assert_401(response, code="authentication_failed"):
    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "client_error"
    assert body["errors"][0]["code"] == code
    assert body["errors"][0]["attr"] is None


# --- API keys --------------------------------------------------------------------------------------------------------


def test_create_api_key_prints_the_key_alone_on_the_last_line_and_stores_only_its_hash():
    out = StringIO()
    call_command("create_api_key", "ivr-production", "--role", "integration", "--expires-days", "30", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    api_key = ApiKey.objects.get(name="ivr-production")
    assert key.startswith(api_key.prefix + ".")
    assert api_key.role == "integration"
    assert timedelta(days=29) < api_key.expiry_date - timezone.now() <= timedelta(days=30)
    secret = key.partition(".")[2]
    stored = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert not any(secret in str(value) for value in stored.values())
    assert _with_key(key).get(LIST).status_code == 200
    record = AuditLog.objects.get(action="api_key.created")
    assert record.target_id == api_key.prefix
    assert secret not in str(record.data)


def test_create_api_key_refuses_an_unknown_role():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("create_api_key", "x", "--role", "root")
    with pytest.raises(CommandError, match="at least one day"):
        call_command("create_api_key", "x", "--role", "auditor", "--expires-days", "0")
    assert not ApiKey.objects.exists()


def test_a_key_records_when_it_was_last_used():
    client, api_key = key_client("integration")
    assert api_key.last_used_at is None
    client.get(LIST)
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


@pytest.mark.parametrize("header", ["Api-Key nope.nope", "Api-Key ", "Api-Key abc", "Api-Key 12345678.xyz\u00e9"])
def test_malformed_or_unknown_keys_are_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    _assert_401(client.get(LIST))


def test_revoked_and_expired_keys_are_401():
    revoked, revoked_key = ApiKey.objects.create_key(name="old", role="integration")
    ApiKey.objects.filter(pk=revoked.pk).update(revoked=True)
    _assert_401(_with_key(revoked_key).get(LIST))
    _expired, expired_key = ApiKey.objects.create_key(
        name="temp", role="integration", expiry_date=timezone.now() - timedelta(seconds=1)
    )
    _assert_401(_with_key(expired_key).get(LIST))


def test_no_credentials_is_401_with_a_challenge():
    response = APIClient().get(LIST)
    _assert_401(response, code="not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_the_admin_shows_a_new_key_once_and_revokes_keys_with_an_audit_record():
    supervisor = UserFactory(roles=["supervisor"], staff=True)
    request = RequestFactory().post("/admin/accounts/apikey/add/")
    request.user = supervisor
    request.session = {}
    request._messages = FallbackStorage(request)
    model_admin = ApiKeyAdmin(ApiKey, admin_site)
    api_key = ApiKey(name="crm", role="integration")
    model_admin.save_model(request, api_key, form=None, change=False)
    shown = [str(m) for m in request._messages]
    assert len(shown) == 1
    key = shown[0].split(" is: ")[1].split(".", 1)[0] + "." + shown[0].split(" is: ")[1].split(".", 2)[1]
    assert _with_key(key).get(LIST).status_code == 200

    model_admin.revoke_selected(request, ApiKey.objects.filter(pk=api_key.pk))
    _assert_401(_with_key(key).get(LIST))
    assert AuditLog.objects.filter(action="api_key.revoked", target_id=api_key.prefix).count() == 1
    assert not model_admin.has_delete_permission(request, api_key)


# --- JWT -------------------------------------------------------------------------------------------------------------


def test_jwt_obtain_use_and_refresh():
    user = UserFactory(username="ana", roles=["auditor"])
    client = APIClient()
    tokens = client.post(
        "/api/auth/token",
        {"username": "ana", "password": "pw-Secret-123", "otp_token": totp_code(user)},  # every console user's code
        format="json",
    ).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.get(LIST).status_code == 200
    refreshed = APIClient().post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 200
    assert "access" in refreshed.json()


def test_jwt_wrong_password_and_bad_tokens_are_401():
    UserFactory(username="ana", roles=["auditor"])
    response = APIClient().post("/api/auth/token", {"username": "ana", "password": "wrong"}, format="json")
    _assert_401(response, code="invalid_credentials")  # one code for every refusal (security review item 1)
    _assert_401(
        APIClient().post("/api/auth/token/refresh", {"refresh": "not-a-token"}, format="json"),
        code="authentication_failed",
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    _assert_401(client.get(LIST), code="authentication_failed")


def test_jwt_of_a_deactivated_user_is_401():
    user = UserFactory(username="gone", roles=["auditor"])
    tokens = (
        APIClient()
        .post(
            "/api/auth/token",
            {"username": "gone", "password": "pw-Secret-123", "otp_token": totp_code(user)},
            format="json",
        )
        .json()
    )
    user.is_active = False
    user.save(update_fields=["is_active"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.get(LIST).status_code == 401


# --- Sessions (Swagger) ----------------------------------------------------------------------------------------------


def test_staff_sessions_work_and_other_sessions_do_not(settings):
    # The second factor can be off only in development (DEBUG on), as in the admin itself.
    settings.DEBUG, settings.ADMIN_2FA_REQUIRED = True, False
    staff = UserFactory(roles=["auditor"], staff=True)
    client = APIClient()
    client.force_login(staff)
    assert client.get(LIST).status_code == 200
    plain = UserFactory(roles=["auditor"])
    client = APIClient()
    client.force_login(plain)
    assert client.get(LIST).status_code == 401


# --- Role groups -----------------------------------------------------------------------------------------------------


def test_the_migration_created_the_four_role_groups_and_only_supervisors_see_pii():
    groups = {g.name: g for g in Group.objects.filter(name__in=["supervisor", "agent", "auditor", "integration"])}
    assert set(groups) == {"supervisor", "agent", "auditor", "integration"}

    def perms(name):
        return {
            f"{p.content_type.app_label}.{p.codename}" for p in groups[name].permissions.select_related("content_type")
        }

    assert "interactions.view_pii" in perms("supervisor")
    assert all("interactions.view_pii" not in perms(name) for name in ("agent", "auditor", "integration"))
    assert "audit.view_auditlog" in perms("auditor")
    assert "otp.add_otpchallenge" in perms("integration")
    assert not any(p.startswith(("audit.", "webhooks.")) for p in perms("integration"))


def test_a_superuser_counts_as_supervisor():
    from tests.api.helpers import user_client

    admin = UserFactory(username="root")
    admin.is_superuser = True
    admin.save(update_fields=["is_superuser"])
    assert user_client(admin).get("/api/audit-logs").status_code == 200


def test_api_keys_never_hold_the_agent_role():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("create_api_key", "x", "--role", "agent")
    assert "agent" not in dict(ApiKeyAdmin(ApiKey, admin_site).get_form(None)().fields["role"].choices)
    # A row that holds it anyway (written by hand) gets no access rather than an error.
    _odd, key = ApiKey.objects.create_key(name="odd", role="agent")
    assert _with_key(key).get(LIST).status_code == 403


def test_a_staff_session_without_the_second_factor_is_not_enough(settings):
    settings.ADMIN_2FA_REQUIRED = True
    client = APIClient()
    client.force_login(UserFactory(roles=["auditor"], staff=True))  # password only: no TOTP step
    assert client.get(LIST).status_code == 401


def test_a_staff_session_that_passed_the_second_factor_works(settings):
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.ADMIN_2FA_REQUIRED = True
    staff = UserFactory(roles=["auditor"], staff=True)
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client = APIClient()
    client.force_login(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id  # what django_otp's login() records
    session.save()
    assert client.get(LIST).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_role_groups_come_back_after_a_flush():
    call_command("flush", "--no-input", verbosity=0)  # what transactional tests do between tests
    assert Group.objects.filter(name__in=["supervisor", "agent", "auditor", "integration"]).count() == 4
    assert Group.objects.get(name="supervisor").permissions.filter(codename="view_pii").exists()


def test_a_user_with_a_second_factor_device_can_be_deleted():
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = UserFactory(username="leaving", staff=True)
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    user.delete()  # the device goes with it; ending its tokens must not recreate rows for a deleted user
    assert not TOTPDevice.objects.exists()


def test_removing_a_second_factor_device_ends_the_users_tokens():
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import AccountSecurity
    from audit.models import AuditLog

    user = UserFactory(username="ana-device")
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True).delete()
    assert AccountSecurity.objects.get(user=user).token_generation == 1
    assert AuditLog.objects.get(action="auth.tokens_revoked").data == {"reason": "second_factor_removed"}
