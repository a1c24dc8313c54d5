"""A whole create-and-verify flow, then a search for the code everywhere it must not be: the stored challenge, the
API answers, the admin pages, the audit records, the task arguments and every log record."""

import logging

import pytest
from celery import signals
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.forms.models import model_to_dict
from django.test import RequestFactory

from audit.models import AuditLog
from otp.models import OtpChallenge, OtpIdempotencyRecord

from .conftest import code_in, wrong

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def task_calls():
    calls = []

    def record(task=None, args=None, kwargs=None, **_):
        calls.append((task.name if task else "", repr(args), repr(kwargs)))

    signals.task_prerun.connect(record, weak=False)
    yield calls
    signals.task_prerun.disconnect(record)


def _admin_pages(challenge_id) -> str:
    """The OTP admin's list and change pages as a superuser sees them (rendered through the ModelAdmin itself)."""
    superuser = get_user_model().objects.create_superuser("otp-admin", "admin@example.com", "unused-password-3")
    model_admin = admin.site._registry[OtpChallenge]
    factory = RequestFactory()
    pages = []
    for url, view, args in (
        ("/admin/otp/otpchallenge/", model_admin.changelist_view, ()),
        (f"/admin/otp/otpchallenge/{challenge_id}/change/", model_admin.change_view, (str(challenge_id),)),
    ):
        request = factory.get(url)
        request.user = superuser
        response = view(request, *args)
        response.render()
        assert response.status_code == 200
        pages.append(response.content.decode())
    return "\n".join(pages)


def test_the_code_is_nowhere_but_in_the_sms(api, sms_outbox, caplog, task_calls):
    caplog.set_level(logging.DEBUG)
    created = api.post(
        "/api/otp",
        {"phone": "+5215512345678", "purpose": "transaction", "context": {"amount": "10.00"}},
        format="json",
        headers={"Idempotency-Key": "flow-1"},
    )
    assert created.status_code == 201
    challenge_id = created.json()["id"]
    assert len(sms_outbox) == 1, "the SMS went out through the messaging pipeline"
    code = code_in(sms_outbox[0][1])

    answers = [
        created,
        api.post(
            "/api/otp",
            {"phone": "+5215512345678", "purpose": "transaction", "context": {"amount": "10.00"}},
            format="json",
            headers={"Idempotency-Key": "flow-1"},
        ),
        api.post(
            "/api/otp/verify", {"id": challenge_id, "code": wrong(code), "context": {"amount": "10.00"}}, format="json"
        ),
        api.get(f"/api/otp/{challenge_id}"),
        api.post("/api/otp/verify", {"id": challenge_id, "code": code, "context": {"amount": "10.00"}}, format="json"),
    ]
    assert [r.status_code for r in answers] == [201, 201, 400, 200, 200]
    assert len(sms_outbox) == 1, "the idempotent retry sent nothing"

    places = {
        "api answers": "\n".join(r.content.decode() + str(dict(r.items())) for r in answers),
        "challenge row": str(model_to_dict(OtpChallenge.objects.get(pk=challenge_id))),
        "idempotency row": str(list(OtpIdempotencyRecord.objects.values())),
        "audit records": str(list(AuditLog.objects.values("action", "data"))),
        "admin pages": _admin_pages(challenge_id),
        "task arguments": str(task_calls),
        "log records": "\n".join(
            record.getMessage() + str({k: v for k, v in record.__dict__.items() if k not in ("msg", "args")})
            for record in caplog.records
        ),
    }
    assert task_calls, "the delivery task ran"
    assert caplog.records, "the flow logged"
    for place, text in places.items():
        assert code not in text, f"the code appears in the {place}"
        assert "+5215512345678" not in text or place == "challenge row", f"the full phone appears in the {place}"


def test_admin_cancels_pending_challenges_and_finds_them_by_full_phone(api):
    from django.contrib.messages.storage.fallback import FallbackStorage

    from otp.services import otp_request

    from .test_otp_purge import ACTOR

    pending = otp_request(phone="+5215512345678", purpose="login", actor=ACTOR).challenge
    other = otp_request(phone="+5215512340000", purpose="login", actor=ACTOR).challenge
    superuser = get_user_model().objects.create_superuser("otp-admin2", "a2@example.com", "unused-password-4")
    model_admin = admin.site._registry[OtpChallenge]
    request = RequestFactory().post("/admin/otp/otpchallenge/")
    request.user = superuser
    request.session = {}
    request._messages = FallbackStorage(request)

    found, _ = model_admin.get_search_results(request, OtpChallenge.objects.all(), "+52 1 55 1234 5678")
    assert list(found) == [pending]
    model_admin.cancel_selected(request, OtpChallenge.objects.filter(pk=pending.pk))
    pending.refresh_from_db()
    other.refresh_from_db()
    assert pending.status == "canceled" and other.status == "pending"
    record = AuditLog.objects.get(action="otp.canceled", target_id=str(pending.pk))
    assert record.data["reason"] == "admin" and record.actor_label == "otp-admin2"
