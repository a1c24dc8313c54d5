"""Erasing one customer: everything of their number redacted at once, others intact, audited with the reason; the
full number still finds their history (API filter and admin search, through the keyed hash)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import ApiKey
from contactcenter.common.actors import Actor
from contactcenter.common.domain import DomainError
from interactions.models import CallDetail, Interaction
from retention.models import RetentionRun
from retention.services import customer_erase
from tests.factories import UserFactory

from .conftest import assert_redacted, assert_untouched, audit_records, dump, rows_of, seed_customer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ERASED = "+525512345678"
OTHER = "+525587651234"
ACTOR = Actor.system("retention-tests")


def test_erasure_redacts_everything_of_one_phone_and_leaves_others_intact(now):
    erased = seed_customer(ERASED, at=now - timedelta(days=2))
    other = seed_customer(OTHER, at=now - timedelta(days=2))
    other_before = dump(rows_of(other))
    storage = CallDetail._meta.get_field("recording").storage

    result = customer_erase(
        phone="+52 1 55 1234 5678", reason="Customer request REQ-42 from +5215512345678", actor=ACTOR
    )

    assert result["phone"] == "+52******5678" and not result["dry_run"]
    assert result["counts"] == {
        "interactions": 3,
        "messages": 3,
        "call_details": 1,
        "events": 3,
        "otp_challenges": 1,
        "recording_files": 1,
    }
    assert_redacted(dump(rows_of(erased)), ERASED)
    assert not storage.exists(erased.recordings[0])
    assert dump(rows_of(other)) == other_before
    assert_untouched(other_before, OTHER)
    assert storage.exists(other.recordings[0])

    (record,) = audit_records("retention.customer_erase")
    assert record.data["reason"] == "Customer request REQ-42 from +52*******5678"
    assert record.data["phone"] == "+52******5678" and record.data["counts"] == result["counts"]
    assert "5512345678" not in str(record.data) + record.target_id

    # Erasing again finds the same rows and changes nothing more.
    before = dump(rows_of(erased))
    customer_erase(phone=ERASED, reason="again", actor=ACTOR)
    assert dump(rows_of(erased)) == before


def test_erasure_finds_raw_events_that_mention_the_number_without_an_interaction(now):
    from webhooks.models import InteractionEvent

    orphan = InteractionEvent.objects.create(
        provider="twilio",
        idempotency_key="orphan-1",
        status="failed",
        payload={"To": "%2B5215512345678", "Body": "Hola"},
        error="no interaction for 5215512345678",
    )
    result = customer_erase(phone=ERASED, reason="request", actor=ACTOR)
    orphan.refresh_from_db()
    assert result["counts"]["events"] == 1 and orphan.redacted_at is not None
    assert "5512345678" not in str(orphan.payload) + orphan.error and "Hola" not in str(orphan.payload)


def test_erasure_refuses_bad_input_without_changing_anything(now):
    seed_customer(ERASED, at=now)
    with pytest.raises(DomainError) as bad_phone:
        customer_erase(phone="12ab", reason="request", actor=ACTOR)
    assert bad_phone.value.code == "invalid_phone"
    with pytest.raises(DomainError) as no_reason:
        customer_erase(phone=ERASED, reason="  ", actor=ACTOR)
    assert no_reason.value.code == "reason_required"
    assert Interaction.objects.filter(customer_phone=ERASED).count() == 3
    assert not audit_records("retention.customer_erase")


def test_erase_customer_command_with_a_dry_run_first(now):
    erased = seed_customer(ERASED, at=now)
    before = dump(rows_of(erased))
    out = StringIO()
    call_command("erase_customer", "--phone", ERASED, "--reason", "REQ-7", "--dry-run", stdout=out)
    assert out.getvalue().splitlines()[-1] == "Customer +52******5678: would redact 11 rows."
    assert dump(rows_of(erased)) == before

    out = StringIO()
    call_command("erase_customer", "--phone", ERASED, "--reason", "REQ-7", stdout=out)
    assert out.getvalue().splitlines()[-1] == "Customer +52******5678: redacted 11 rows."
    assert_redacted(dump(rows_of(erased)), ERASED)
    assert audit_records("retention.customer_erase")[0].actor_label.startswith("erase_customer")

    with pytest.raises(CommandError, match="phone number"):
        call_command("erase_customer", "--phone", "nope", "--reason", "REQ-7")


def test_the_full_number_still_finds_an_erased_customer_through_the_api(now):
    erased = seed_customer(ERASED, at=now)
    seed_customer(OTHER, at=now)
    customer_erase(phone=ERASED, reason="request", actor=ACTOR)
    _, key = ApiKey.objects.create_key(name="retention-tests", role="supervisor")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    response = client.get("/api/interactions", {"phone": ERASED})
    assert response.status_code == 200, response.content
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert {row["id"] for row in rows} == {str(pk) for pk in erased.interaction_ids}
    assert "5512345678" not in response.content.decode()


# --- The admin ----------------------------------------------------------------------------------------------------


def _staff(username, *codenames):
    user = UserFactory(username=username, staff=True, totp=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="retention", codename__in=codenames))
    user.user_permissions.add(*Permission.objects.filter(codename="view_interaction"))
    return user


def _login(client, user):
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
    session.save()
    return client


def test_admin_shows_per_channel_what_is_due_and_when_the_policy_last_ran(client, now):
    from retention.services import retention_apply

    seed_customer(ERASED, at=now - timedelta(days=100))
    _login(client, _staff("auditor-1", "view_retentionrun"))
    page = client.get("/admin/retention/retentionrun/")
    assert page.status_code == 200
    overview = {line.channel: line for line in page.context["retention_overview"]}
    assert overview["call"].due_redaction == 1  # the recording (90 days)
    assert overview["sms"].due_redaction == 1  # the SMS body (30 days)
    assert overview["all"].due_deletion == 3 + 1  # raw events and the OTP challenge (90 days)
    assert b"The policy has not run yet." in page.content
    assert b"erase-customer" not in page.content  # no permission, no link

    report = retention_apply()
    page = client.get("/admin/retention/retentionrun/")
    assert page.context["retention_last_run"].pk == report.run_id
    assert all(line.due_redaction == line.due_deletion == 0 for line in page.context["retention_overview"])
    assert client.get("/admin/retention/retentionrun/erase-customer/").status_code == 403


def test_admin_erasure_form_for_supervisors_with_the_permission(client, now):
    erased = seed_customer(ERASED, at=now)
    other = seed_customer(OTHER, at=now)
    other_before = dump(rows_of(other))
    user = _staff("supervisor-1", "view_retentionrun", "erase_customer")
    _login(client, user)
    url = "/admin/retention/retentionrun/erase-customer/"
    assert b"erase-customer" in client.get("/admin/retention/retentionrun/").content
    assert client.get(url).status_code == 200

    # Without the confirmation: a preview of the counts, nothing changed.
    preview = client.post(url, {"phone": ERASED, "reason": "GDPR request 7"})
    assert preview.status_code == 200 and preview.context["result"]["counts"]["interactions"] == 3
    assert Interaction.objects.filter(customer_phone=ERASED).count() == 3

    missing = client.post(url, {"phone": "not a phone", "reason": "", "confirm": "on"})
    assert missing.status_code == 200 and set(missing.context["form"].errors) == {"phone", "reason"}

    done = client.post(url, {"phone": ERASED, "reason": "GDPR request 7", "confirm": "on"})
    assert done.status_code == 302
    assert_redacted(dump(rows_of(erased)), ERASED)
    assert dump(rows_of(other)) == other_before
    (record,) = audit_records("retention.customer_erase")
    assert record.actor_id == str(user.pk) and record.data["reason"] == "GDPR request 7"
    assert not RetentionRun.objects.exists()

    # The interaction admin's search by full number still finds the erased customer's interactions.
    _login(client, _staff("supervisor-2", "view_retentionrun"))
    found = client.get("/admin/interactions/interaction/", {"q": ERASED})
    assert found.status_code == 200
    assert {row.pk for row in found.context["cl"].result_list} == set(erased.interaction_ids)
