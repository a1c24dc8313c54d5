"""Concurrency against PostgreSQL: threads with their own connections, started together at a barrier."""

import threading

import pytest
from django.db import connection

from contactcenter.common.actors import Actor
from contactcenter.common.domain import DomainError
from contactcenter.common.errors import http_headers_for, http_status_for
from otp.api.views import otp_verify_answer
from otp.models import OtpChallenge, OtpStatus
from otp.services import OtpRateLimited, OtpVerifyResult, otp_request, otp_verify

from .conftest import code_in, wrong

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PHONE = "+525512345678"  # canonical (requests may spell it +52 1 55…)
ACTOR = Actor.system("otp-tests")
THREADS = 20


def run_together(fn, count=THREADS):
    """Run fn(i) in `count` threads released at once; returns the results (or exceptions) in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index):
        try:
            barrier.wait(timeout=30)
            results[index] = fn(index)
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


def test_concurrent_creates_for_one_phone_and_purpose_let_exactly_the_limit_through(settings):
    results = run_together(lambda i: otp_request(phone=PHONE, purpose="login", actor=ACTOR, client_id="bench"))

    created = [r for r in results if not isinstance(r, Exception)]
    limited = [r for r in results if isinstance(r, OtpRateLimited)]
    assert len(created) == settings.OTP_RATE_LIMIT_MAX
    assert len(limited) == THREADS - settings.OTP_RATE_LIMIT_MAX, [r for r in results if isinstance(r, Exception)]
    assert all(http_status_for(r) == 429 and int(http_headers_for(r)["Retry-After"]) > 0 for r in limited)
    assert OtpChallenge.objects.filter(phone=PHONE, purpose="login").count() == settings.OTP_RATE_LIMIT_MAX
    assert OtpChallenge.objects.filter(phone=PHONE, status=OtpStatus.PENDING).count() == 1


def test_concurrent_creates_with_one_idempotency_key_send_one_sms():
    results = run_together(
        lambda i: otp_request(phone=PHONE, purpose="login", actor=ACTOR, client_id="bench", idempotency_key="same")
    )
    assert not [r for r in results if isinstance(r, Exception)]
    assert len({r.body["id"] for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert OtpChallenge.objects.count() == 1


def _challenge_with_code(sms_outbox):
    result = otp_request(phone=PHONE, purpose="login", actor=ACTOR, client_id="bench")
    return result.challenge.pk, code_in(sms_outbox[-1][1])


def test_concurrent_wrong_guesses_stop_at_max_attempts_and_the_right_code_is_then_refused(settings, sms_outbox):
    challenge_id, code = _challenge_with_code(sms_outbox)

    results = run_together(lambda i: otp_verify(challenge_id=challenge_id, code=wrong(code), actor=ACTOR))

    assert not [r for r in results if isinstance(r, Exception)]
    statuses = sorted(otp_verify_answer(r)[0] for r in results)
    assert statuses.count(400) == settings.OTP_MAX_ATTEMPTS - 1
    assert statuses.count(429) == THREADS - (settings.OTP_MAX_ATTEMPTS - 1)
    challenge = OtpChallenge.objects.get(pk=challenge_id)
    assert challenge.attempts == settings.OTP_MAX_ATTEMPTS
    assert challenge.status == OtpStatus.MAX_ATTEMPTS
    refused = otp_verify(challenge_id=challenge_id, code=code, actor=ACTOR)
    assert otp_verify_answer(refused) == (429, {"status": "max_attempts"})


def test_concurrent_right_codes_approve_exactly_once(sms_outbox):
    challenge_id, code = _challenge_with_code(sms_outbox)

    results = run_together(lambda i: otp_verify(challenge_id=challenge_id, code=code, actor=ACTOR))

    assert not [r for r in results if isinstance(r, Exception)]
    assert sum(otp_verify_answer(r)[0] == 200 for r in results) == 1
    assert sum(otp_verify_answer(r)[0] == 409 for r in results) == THREADS - 1
    assert OtpChallenge.objects.get(pk=challenge_id).status == OtpStatus.APPROVED


def test_a_new_challenge_racing_a_verification_leaves_one_outcome(sms_outbox):
    challenge_id, code = _challenge_with_code(sms_outbox)

    def step(index):
        if index % 2:
            return otp_verify(challenge_id=challenge_id, code=code, actor=ACTOR)
        try:
            return otp_request(phone=PHONE, purpose="login", actor=ACTOR, client_id="bench")
        except DomainError as exc:
            return exc

    results = run_together(step, count=6)
    approvals = [r for r in results if isinstance(r, OtpVerifyResult) and otp_verify_answer(r)[0] == 200]
    challenge = OtpChallenge.objects.get(pk=challenge_id)
    assert len(approvals) <= 1
    assert challenge.status == (OtpStatus.APPROVED if approvals else OtpStatus.CANCELED)
    assert OtpChallenge.objects.filter(phone=PHONE, status=OtpStatus.PENDING).count() <= 1
