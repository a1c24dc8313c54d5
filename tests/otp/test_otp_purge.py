"""`manage.py purge_otp_challenges`, the expiry task and the system check of OTP_CODE_LENGTH."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from freezegun import freeze_time

from audit.models import AuditLog
from contactcenter.common.actors import Actor
from otp.checks import otp_settings_check
from otp.models import OtpChallenge, OtpIdempotencyRecord
from otp.services import otp_request
from otp.tasks import otp_challenges_expire_task

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("otp-tests")


def _request(phone="+5215512345678", **kwargs):
    return otp_request(phone=phone, purpose="login", actor=ACTOR, **kwargs).challenge


def test_purge_expires_overdue_and_deletes_old_rows_with_a_dry_run_first():
    start = timezone.now()
    with freeze_time(start) as clock:
        old = _request("+5215512340001", idempotency_key="old-key")
        clock.tick(timedelta(days=29))
        recent = _request("+5215512340002")
        clock.tick(timedelta(days=2))

        out = StringIO()
        call_command("purge_otp_challenges", "--older-than", "30d", "--dry-run", stdout=out)
        assert "Dry run: would have expired 2 overdue challenge(s), deleted 1 challenge(s)" in out.getvalue()
        assert OtpChallenge.objects.count() == 2 and OtpChallenge.objects.filter(status="pending").count() == 2

        out = StringIO()
        call_command("purge_otp_challenges", "--older-than", "30d", stdout=out)
    assert "expired 2 overdue challenge(s), deleted 1 challenge(s)" in out.getvalue()
    assert "1 idempotency record(s)" in out.getvalue()
    assert not OtpChallenge.objects.filter(pk=old.pk).exists()
    assert OtpChallenge.objects.get(pk=recent.pk).status == "expired"
    assert not OtpIdempotencyRecord.objects.exists()
    assert AuditLog.objects.get(action="otp.purged").data["deleted"] == 1


@pytest.mark.parametrize("value", ["30", "thirty days", "-1d", "0d"])
def test_purge_refuses_a_bad_age(value):
    with pytest.raises(CommandError):
        call_command("purge_otp_challenges", "--older-than", value)


def test_expiry_task_marks_overdue_challenges(settings):
    with freeze_time(timezone.now()) as clock:
        challenge = _request()
        assert otp_challenges_expire_task() == 0
        clock.tick(timedelta(seconds=settings.OTP_TTL_SECONDS + 1))
        assert otp_challenges_expire_task() == 1
    challenge.refresh_from_db()
    assert challenge.status == "expired"


@pytest.mark.parametrize(("length", "errors"), [(5, 1), (6, 0), (10, 0), (11, 1)])
def test_code_length_must_be_6_to_10(settings, length, errors):
    settings.OTP_CODE_LENGTH = length
    assert len([e for e in otp_settings_check(None) if e.id == "otp.E001"]) == errors


def test_a_bad_code_length_refuses_to_send(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.OTP_CODE_LENGTH = 4
    with pytest.raises(ImproperlyConfigured):
        _request()
    assert not OtpChallenge.objects.exists()
