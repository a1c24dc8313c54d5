"""The challenge follows its SMS: delivery state from the Message, and a permanent failure fails the challenge."""

import pytest

from audit.models import AuditLog
from interactions.services import message_status_apply
from otp.models import OtpChallenge

from .conftest import queued_code

pytestmark = pytest.mark.django_db


def _create(api):
    response = api.post("/api/otp", {"phone": "+5215512345678", "purpose": "login"}, format="json")
    assert response.status_code == 201
    return OtpChallenge.objects.select_related("message").get(pk=response.json()["id"])


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (["sending"], "queued"),
        (["sent"], "sent"),
        (["sent", "delivered"], "delivered"),
        (["sent", "undelivered"], "failed"),
    ],
)
def test_delivery_status_follows_the_message(api, django_capture_on_commit_callbacks, steps, expected):
    challenge = _create(api)
    with django_capture_on_commit_callbacks(execute=True):
        for step in steps:
            message_status_apply(message_id=challenge.message_id, status=step)
    assert api.get(f"/api/otp/{challenge.pk}").json()["delivery_status"] == expected


@pytest.mark.parametrize("final", ["failed", "undelivered"])
def test_a_permanently_failed_sms_fails_the_challenge(api, django_capture_on_commit_callbacks, final):
    challenge = _create(api)
    code = queued_code(challenge.pk)
    with django_capture_on_commit_callbacks(execute=True):
        message_status_apply(message_id=challenge.message_id, status=final, error_code="30003", error_message="x")

    challenge.refresh_from_db()
    assert challenge.status == "failed"
    record = AuditLog.objects.get(action="otp.failed", target_id=str(challenge.pk))
    assert record.data["error_code"] == "30003" and record.actor_type == "system"
    response = api.post("/api/otp/verify", {"id": str(challenge.pk), "code": code}, format="json")
    assert response.status_code == 409
    assert response.json() == {"status": "failed", "verified": False}


def test_a_late_failure_does_not_touch_an_approved_challenge(api, django_capture_on_commit_callbacks):
    challenge = _create(api)
    assert api.post("/api/otp/verify", {"id": str(challenge.pk), "code": queued_code(challenge.pk)}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        message_status_apply(message_id=challenge.message_id, status="failed")
    challenge.refresh_from_db()
    assert challenge.status == "approved"
