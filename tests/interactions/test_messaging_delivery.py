"""Delivery, retries, the uncertain-send lookup, the sweeper, the reconciler and resends, in-process (eager tasks)
against the fake providers over real HTTP. Counting the fake's requests proves nothing is lost or sent twice."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditLog
from contactcenter.common.actors import Actor
from contactcenter.common.domain import DomainError
from interactions.models import Message, MessageStatus
from interactions.services import (
    SENSITIVE_BODY_REDACTED,
    message_deliver,
    message_reconcile,
    message_resend,
    message_send,
    message_sweep,
    sms_reconcile_stale,
)
from interactions.services.delivery import SEND_UNCERTAIN, message_retry_delay
from interactions.tasks import message_deliver_task
from simulators.fake_twilio import accept_then_hang, hang, server_error, too_many_requests, twilio_error

pytestmark = pytest.mark.django_db
PHONE = "+5215512345678"


def _queued(body="Su folio es ACL-0042.", channel="sms", **kwargs) -> Message:
    """A queued message whose wake-up call is not run (the test runs the delivery itself)."""
    return message_send(channel=channel, body=body, phone=PHONE, **kwargs)


def _reload(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


def _age(message: Message, seconds: float, **fields) -> None:
    """Pretend the message was last touched `seconds` ago."""
    moment = timezone.now() - timedelta(seconds=seconds)
    Message.objects.filter(pk=message.pk).update(
        updated_at=moment, queued_at=moment, created_at=moment, status_changed_at=moment, **fields
    )


@pytest.fixture
def fast_retries(settings):
    settings.MESSAGE_RETRY_BASE_DELAY_SECONDS = 0.01
    settings.MESSAGE_UNCERTAIN_RECHECK_SECONDS = 0
    settings.MESSAGE_SEND_TIMEOUT_SECONDS = 0.5


# --- the happy path -------------------------------------------------------------------------------------------


def test_send_queues_and_the_wake_up_call_sends_through_twilio(sms_via_fake_twilio, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = _queued()
    message = _reload(message)
    [sid] = sms_via_fake_twilio.messages
    assert message.provider_message_id == sid
    assert message.provider == "twilio"
    assert message.status == MessageStatus.SENDING  # Twilio has it queued; callbacks move it on
    assert message.provider_status == "queued"
    assert message.send_attempts == 1
    assert len(sms_via_fake_twilio.create_requests) == 1


def test_a_second_wake_up_call_sends_nothing(sms_via_fake_twilio):
    message = _queued()
    assert message_deliver(message_id=message.pk).outcome == "sent"
    assert message_deliver(message_id=message.pk).outcome == "skipped"
    assert message_deliver_task.apply(args=[str(message.pk)]).get() == "skipped"
    assert len(sms_via_fake_twilio.create_requests) == 1


def test_whatsapp_goes_through_builderbot(whatsapp_via_fake_builderbot):
    message = _queued(channel="whatsapp", body="Hola", media_url="https://example.com/a.pdf")
    assert message_deliver(message_id=message.pk).outcome == "sent"
    message = _reload(message)
    assert (message.status, message.provider) == (MessageStatus.SENT, "builderbot")
    assert whatsapp_via_fake_builderbot.sent[0]["messages"] == {
        "content": "Hola",
        "mediaUrl": "https://example.com/a.pdf",
    }


def test_console_backend_marks_sent_without_a_provider(settings):
    settings.SMS_BACKEND = "console"
    message = _queued()
    assert message_deliver(message_id=message.pk).outcome == "sent"
    message = _reload(message)
    assert (message.status, message.provider) == (MessageStatus.SENT, "console")


def test_a_sensitive_body_is_dropped_once_twilio_has_it(sms_via_fake_twilio):
    message = _queued(body="Su código es 493817", is_sensitive=True, purpose="otp")
    message_deliver(message_id=message.pk)
    assert _reload(message).body == SENSITIVE_BODY_REDACTED
    assert sms_via_fake_twilio.create_requests[0].form["Body"] == "Su código es 493817"
    assert sms_via_fake_twilio.create_requests[0].form["ValidityPeriod"] == "300"
    assert not Message.objects.filter(body__contains="493817").exists()


def test_a_sensitive_message_too_old_to_be_useful_is_not_sent(sms_via_fake_twilio):
    message = _queued(body="Su código es 493817", is_sensitive=True)
    _age(message, 301)
    assert message_deliver(message_id=message.pk).outcome == "failed"
    message = _reload(message)
    assert (message.status, message.error_code, message.body) == ("failed", "expired", SENSITIVE_BODY_REDACTED)
    assert not sms_via_fake_twilio.requests


# --- failures -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [21211, 21610, 21408])
def test_permanent_errors_fail_at_once_with_the_code(sms_via_fake_twilio, code):
    sms_via_fake_twilio.fail_next(twilio_error(code))
    message = _queued(body="Su código es 493817", is_sensitive=True)
    outcome = message_deliver(message_id=message.pk)
    assert outcome.outcome == "failed"
    message = _reload(message)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, str(code))
    assert message.error_message and message.failed_at
    assert message.body == SENSITIVE_BODY_REDACTED
    assert len(sms_via_fake_twilio.create_requests) == 1
    assert message_deliver(message_id=message.pk).outcome == "skipped"


def test_transient_errors_are_retried_then_succeed_once(sms_via_fake_twilio, fast_retries):
    sms_via_fake_twilio.fail_next(too_many_requests(retry_after=2), server_error(502))
    message = _queued()

    first = message_deliver(message_id=message.pk)
    assert (first.outcome, _reload(message).status, _reload(message).error_code) == ("retry", "queued", "20429")
    assert first.retry_in >= 2  # Retry-After honoured
    second = message_deliver(message_id=message.pk)  # a 502 on create: maybe created, so look before resending
    assert (second.outcome, _reload(message).error_code) == ("retry", SEND_UNCERTAIN)
    assert message_deliver(message_id=message.pk).outcome == "sent"

    message = _reload(message)
    assert message.status == MessageStatus.SENDING
    assert message.send_attempts == 3
    assert message.error_code == ""
    assert len(sms_via_fake_twilio.create_requests) == 3
    assert len(sms_via_fake_twilio.messages) == 1  # one SMS reached the customer


def test_a_timed_out_create_that_reached_twilio_is_adopted_not_sent_again(sms_via_fake_twilio, fast_retries):
    sms_via_fake_twilio.fail_next(accept_then_hang(2))
    message = _queued()
    assert message_deliver(message_id=message.pk).outcome == "retry"
    assert _reload(message).error_code == SEND_UNCERTAIN

    assert message_deliver(message_id=message.pk).outcome == "sent"
    [sid] = sms_via_fake_twilio.messages
    assert _reload(message).provider_message_id == sid
    assert len(sms_via_fake_twilio.create_requests) == 1  # looked up, never re-created


def test_a_timed_out_create_that_did_not_reach_twilio_is_sent_again(sms_via_fake_twilio, fast_retries):
    sms_via_fake_twilio.fail_next(hang(2))
    message = _queued()
    assert message_deliver(message_id=message.pk).outcome == "retry"
    assert message_deliver(message_id=message.pk).outcome == "sent"
    assert len(sms_via_fake_twilio.create_requests) == 2
    assert len(sms_via_fake_twilio.messages) == 1


def test_retries_give_up_after_the_maximum(settings, sms_via_fake_twilio, fast_retries):
    settings.MESSAGE_MAX_SEND_ATTEMPTS = 2
    sms_via_fake_twilio.fail_next(*[too_many_requests()] * 3)
    message = _queued()
    assert [message_deliver(message_id=message.pk).outcome for _ in range(3)] == ["retry", "retry", "failed"]
    message = _reload(message)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "retries_exhausted")
    assert "Too Many Requests" in message.error_message
    assert len(sms_via_fake_twilio.create_requests) == 2


def test_retry_delay_backs_off_with_jitter_and_a_cap(settings):
    settings.MESSAGE_RETRY_BASE_DELAY_SECONDS = 5
    settings.MESSAGE_RETRY_MAX_DELAY_SECONDS = 600
    delays = [message_retry_delay(attempts=1) for _ in range(50)]
    assert all(2.5 <= d <= 5 for d in delays) and len(set(delays)) > 1
    assert 20 <= message_retry_delay(attempts=4) <= 40
    assert message_retry_delay(attempts=30) <= min(600, settings.CELERY_MAX_TASK_DELAY_SECONDS)
    assert message_retry_delay(attempts=1, retry_after=120) == 120
    assert message_retry_delay(attempts=1, retry_after=10**6) <= settings.CELERY_MAX_TASK_DELAY_SECONDS


# --- the sweeper ----------------------------------------------------------------------------------------------


def test_sweeper_enqueues_old_queued_messages_once(sms_via_fake_twilio, django_capture_on_commit_callbacks):
    old, recent = _queued(body="uno"), _queued(body="dos")
    _age(old, 120)
    with django_capture_on_commit_callbacks(execute=True):
        report = message_sweep()
    assert (report.requeued, report.recovered) == (1, 0)
    assert _reload(old).provider_message_id
    assert _reload(recent).status == MessageStatus.QUEUED
    with django_capture_on_commit_callbacks(execute=True):
        assert message_sweep().requeued == 0
    assert len(sms_via_fake_twilio.create_requests) == 1


def test_sweeper_does_not_cut_a_backoff_short(settings):
    settings.MESSAGE_RETRY_BASE_DELAY_SECONDS = 100
    message = _queued()
    _age(message, 150, send_attempts=2)  # the 2nd attempt waits up to 200 s
    assert message_sweep().requeued == 0
    _age(message, 250, send_attempts=2)
    assert message_sweep().requeued == 1


def test_sweeper_recovers_a_send_interrupted_by_a_dead_worker_without_sending_twice(
    sms_via_fake_twilio, django_capture_on_commit_callbacks
):
    # The worker claimed the message, Twilio created it, and the worker died before it stored the SID.
    message = _queued()
    from interactions.providers.twilio import TwilioSmsBackend
    from interactions.services.delivery import _outbound

    TwilioSmsBackend().send(_outbound(message))
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING, send_attempts=1)
    _age(message, 60, last_attempt_at=timezone.now() - timedelta(seconds=60))
    assert message_sweep().recovered == 0  # not yet past MESSAGE_SENDING_TIMEOUT_SECONDS

    Message.objects.filter(pk=message.pk).update(last_attempt_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert message_sweep().recovered == 1
    [sid] = sms_via_fake_twilio.messages
    assert _reload(message).provider_message_id == sid
    assert len(sms_via_fake_twilio.create_requests) == 1


# --- the reconciler -------------------------------------------------------------------------------------------


def _sent_through_fake(fake) -> Message:
    message = _queued()
    message_deliver(message_id=message.pk)
    fake.wait_for_callbacks()
    return _reload(message)


def test_reconciler_moves_a_stuck_message_to_the_fakes_status(settings, sms_via_fake_twilio):
    message = _sent_through_fake(sms_via_fake_twilio)
    assert sms_via_fake_twilio.messages[message.provider_message_id]["status"] == "delivered"
    _age(message, 3600)
    assert sms_reconcile_stale(older_than=timedelta(minutes=15), limit=10) == 1
    message = _reload(message)
    assert (message.status, message.provider_status) == (MessageStatus.DELIVERED, "delivered")
    assert message.delivered_at
    # Checked once per `older_than`: a second run right away asks nothing.
    requests_before = len(sms_via_fake_twilio.requests)
    assert sms_reconcile_stale(older_than=timedelta(minutes=15), limit=10) == 0
    assert len(sms_via_fake_twilio.requests) == requests_before


def test_reconciler_never_moves_a_status_backwards(sms_via_fake_twilio):
    message = _sent_through_fake(sms_via_fake_twilio)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENT)
    sms_via_fake_twilio.set_status(message.provider_message_id, "sending")
    _age(message, 3600)
    assert sms_reconcile_stale(older_than=timedelta(minutes=15), limit=10) == 0
    assert _reload(message).status == MessageStatus.SENT
    # An explicit reconcile of a delivered message does not move it back to sent either.
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.DELIVERED)
    sms_via_fake_twilio.set_status(message.provider_message_id, "sent")
    assert message_reconcile(message_id=message.pk) is False
    assert _reload(message).status == MessageStatus.DELIVERED


def test_reconciler_stores_the_delivery_error(sms_via_fake_twilio):
    message = _sent_through_fake(sms_via_fake_twilio)
    sms_via_fake_twilio.set_status(message.provider_message_id, "undelivered", error_code=30003)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENT)
    assert message_reconcile(message_id=message.pk) is True
    message = _reload(message)
    assert (message.status, message.error_code) == (MessageStatus.UNDELIVERED, "30003")


def test_reconciler_ignores_fresh_console_and_too_old_messages(settings, sms_via_fake_twilio):
    fresh = _sent_through_fake(sms_via_fake_twilio)
    too_old = _sent_through_fake(sms_via_fake_twilio)
    _age(too_old, settings.SMS_RECONCILE_MAX_AGE_SECONDS + 60)
    settings.SMS_BACKEND = "console"
    console = _queued()
    message_deliver(message_id=console.pk)
    _age(console, 3600)
    assert sms_reconcile_stale(older_than=timedelta(minutes=15), limit=10) == 0
    assert _reload(fresh).status == MessageStatus.SENDING


def test_reconcile_sms_command_dry_run_and_run(sms_via_fake_twilio, capsys):
    message = _sent_through_fake(sms_via_fake_twilio)
    _age(message, 3600)
    call_command("reconcile_sms", "--older-than", "15m", "--limit", "5", "--dry-run")
    assert "1 message(s) would be checked" in capsys.readouterr().out
    assert _reload(message).status == MessageStatus.SENDING
    call_command("reconcile_sms", "--older-than", "900")
    assert "checked 1, moved 1 forward, 0 error(s)" in capsys.readouterr().out
    assert _reload(message).status == MessageStatus.DELIVERED


def test_reconcile_sms_command_rejects_bad_durations():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unreadable duration"):
        call_command("reconcile_sms", "--older-than", "soon")


def test_reconcile_when_twilio_is_down_is_a_clear_error(sms_via_fake_twilio):
    message = _sent_through_fake(sms_via_fake_twilio)
    sms_via_fake_twilio.stop()
    with pytest.raises(DomainError) as error:
        message_reconcile(message_id=message.pk)
    assert error.value.code == "provider_unavailable"


# --- resend ---------------------------------------------------------------------------------------------------


def test_a_failed_message_is_resent_once_as_a_new_message(sms_via_fake_twilio):
    sms_via_fake_twilio.fail_next(twilio_error(21610))
    original = _queued(body="Su folio es 42")
    message_deliver(message_id=original.pk)
    actor = Actor.system("test")

    resent = message_resend(message_id=original.pk, actor=actor)
    assert resent.pk != original.pk
    assert (resent.status, resent.body, resent.interaction_id) == ("queued", "Su folio es 42", original.interaction_id)
    assert AuditLog.objects.filter(action="message.resent", target_id=str(original.pk)).count() == 1
    with pytest.raises(DomainError) as error:
        message_resend(message_id=original.pk, actor=actor)
    assert error.value.code == "already_resent"


def test_sensitive_and_unfailed_messages_are_not_resent(sms_via_fake_twilio):
    sms_via_fake_twilio.fail_next(twilio_error(21211))
    otp = _queued(body="Su código es 493817", is_sensitive=True)
    message_deliver(message_id=otp.pk)
    with pytest.raises(DomainError) as error:
        message_resend(message_id=otp.pk, actor=Actor.system())
    assert error.value.code == "sensitive_message"
    with pytest.raises(DomainError) as error:
        message_resend(message_id=_queued().pk, actor=Actor.system())
    assert error.value.code == "not_resendable"
