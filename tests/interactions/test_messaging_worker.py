"""Acceptance of outbound messaging with a REAL Celery worker (a subprocess on the local Redis, this run's queue and
the test database) and the fake Twilio on loopback. Counting the fake's requests proves nothing is lost or sent twice.
"""

import time

import pytest
from celery.signals import before_task_publish
from django.contrib.auth import get_user_model
from django.urls import Resolver404, resolve
from rest_framework.test import APIClient

from interactions.models import Interaction, Message, MessageStatus
from interactions.services import SENSITIVE_BODY_REDACTED, message_send, message_sweep
from simulators.fake_twilio import accept_then_hang, server_error, too_many_requests, twilio_error
from tests.support.celery_worker import publishing_to_broker

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PHONE = "+5215512345678"
DEAD_BROKER = "redis://127.0.0.1:1/0"


def _worker_env(fake, public_base_url="http://127.0.0.1:9", **extra) -> dict:
    return {
        "SMS_BACKEND": "auto",
        "TWILIO_API_BASE_URL": fake.url,
        "PUBLIC_BASE_URL": public_base_url,
        "MESSAGE_SEND_TIMEOUT_SECONDS": "3",
        "MESSAGE_RETRY_BASE_DELAY_SECONDS": "0.2",
        "MESSAGE_UNCERTAIN_RECHECK_SECONDS": "0",
        **extra,
    }


def _wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _message(pk) -> Message:
    return Message.objects.get(pk=pk)


def _status_webhook_exists() -> bool:
    try:
        resolve("/webhooks/twilio/sms/status")
    except Resolver404:
        return False
    return True


def test_a_queued_sms_is_sent_by_the_worker_and_callbacks_bring_it_to_delivered(
    settings, live_server, fake_twilio, celery_worker_factory, broker
):
    settings.PUBLIC_BASE_URL = live_server.url  # what the webhook checks signatures against
    celery_worker_factory(env=_worker_env(fake_twilio, public_base_url=live_server.url))

    message = message_send(channel="sms", body="Su folio es ACL-0042.", phone=PHONE)

    sid = _wait_for(lambda: _message(message.pk).provider_message_id, what="the SID")
    assert list(fake_twilio.messages) == [sid]
    fake_twilio.wait_for_callbacks()
    # The fake posted Twilio's signed callbacks, in order, to the URL we gave it (with our message id).
    assert [status for _, status, _, _ in fake_twilio.callbacks] == ["queued", "sent", "delivered"]
    assert all(
        url.endswith(f"/webhooks/twilio/sms/status?msg_id={message.pk}") for _, _, url, _ in fake_twilio.callbacks
    )
    if not _status_webhook_exists():
        pytest.skip("the Twilio status webhook is not built yet: callbacks were checked on the fake's side only")
    assert [answer for *_, answer in fake_twilio.callbacks] == [200, 200, 200]
    _wait_for(lambda: _message(message.pk).status == MessageStatus.DELIVERED, what="delivered")
    message = _message(message.pk)
    assert message.sent_at and message.delivered_at
    assert len(fake_twilio.create_requests) == 1


def test_transient_errors_are_retried_by_the_worker_and_permanent_ones_fail_at_once(
    fake_twilio, celery_worker_factory, broker
):
    celery_worker_factory(env=_worker_env(fake_twilio))

    fake_twilio.fail_next(too_many_requests(retry_after=0.5), server_error(503))
    retried = message_send(channel="sms", body="Su folio es 1.", phone=PHONE)
    _wait_for(lambda: _message(retried.pk).provider_message_id, what="the retried message's SID")
    assert _message(retried.pk).send_attempts == 3
    assert len(fake_twilio.create_requests) == 3
    assert len(fake_twilio.messages) == 1  # the 503 created nothing; the lookup saw that, so it was sent once

    fake_twilio.fail_next(twilio_error(21211))
    failed = message_send(channel="sms", body="Su folio es 2.", phone=PHONE)
    _wait_for(lambda: _message(failed.pk).status == MessageStatus.FAILED, what="failed")
    failed = _message(failed.pk)
    assert (failed.error_code, failed.send_attempts) == ("21211", 1)
    time.sleep(1)  # nothing else happens afterwards
    assert len(fake_twilio.create_requests) == 4
    assert len(fake_twilio.messages) == 1


def test_with_redis_down_the_request_answers_fast_and_the_sweeper_sends_it_once_redis_is_back(
    settings, fake_twilio, celery_worker_factory
):
    # A superuser counts as a supervisor (the role groups of the data migration are flushed between these tests).
    user = get_user_model().objects.create_user(username="supervisor-down", is_superuser=True)
    interaction = Interaction.objects.create(
        channel="sms", direction="inbound", provider="twilio", customer_phone=PHONE
    )
    client = APIClient()
    client.force_authenticate(user)

    with publishing_to_broker(DEAD_BROKER):
        started = time.monotonic()
        response = client.post(f"/api/interactions/{interaction.pk}/messages", {"body": "Hola"}, format="json")
        elapsed = time.monotonic() - started
    assert response.status_code == 202, response.content
    print(f"request with Redis down answered in {elapsed:.3f}s")
    assert elapsed < 1.0, f"the request took {elapsed:.2f}s with Redis down"
    message_id = response.json()["id"]
    assert _message(message_id).status == MessageStatus.QUEUED  # committed, waiting for its wake-up call

    celery_worker_factory(env=_worker_env(fake_twilio))
    time.sleep(1)
    assert not fake_twilio.requests  # the task was lost with Redis: nothing was sent

    settings.MESSAGE_SWEEP_QUEUED_AFTER_SECONDS = 0
    with publishing_to_broker():
        assert message_sweep().requeued == 1
        _wait_for(lambda: _message(message_id).provider_message_id, what="the SID")
        assert message_sweep().requeued == 0  # no longer queued: not enqueued again
    time.sleep(1)
    assert len(fake_twilio.create_requests) == 1


def test_a_worker_killed_mid_send_neither_loses_nor_duplicates_the_message(
    settings, fake_twilio, celery_worker_factory
):
    # Twilio creates the message but the worker dies before reading the answer.
    fake_twilio.fail_next(accept_then_hang(30))
    first = celery_worker_factory(env=_worker_env(fake_twilio, MESSAGE_SEND_TIMEOUT_SECONDS="25"))
    with publishing_to_broker():
        message = message_send(channel="sms", body="Su folio es 3.", phone=PHONE)
        _wait_for(lambda: fake_twilio.messages, what="the create to reach the fake")
        first.kill()
    assert _message(message.pk).status == MessageStatus.SENDING
    assert _message(message.pk).provider_message_id is None

    celery_worker_factory(env=_worker_env(fake_twilio))
    settings.MESSAGE_SENDING_TIMEOUT_SECONDS = 0  # the attempt is over (its worker is dead): recover it now
    with publishing_to_broker():
        assert message_sweep().recovered == 1
        sid = _wait_for(lambda: _message(message.pk).provider_message_id, what="the adopted SID")
    assert list(fake_twilio.messages) == [sid]
    assert len(fake_twilio.create_requests) == 1  # found by lookup, never created twice


def test_no_code_or_phone_in_task_arguments_results_or_log_lines(fake_twilio, celery_worker_factory, caplog):
    code, digits = "493817", PHONE.lstrip("+")
    published = []

    def capture(body=None, headers=None, **_):
        published.append(repr(body) + repr(headers))

    worker = celery_worker_factory(env=_worker_env(fake_twilio))
    before_task_publish.connect(capture)
    try:
        with publishing_to_broker():
            message = message_send(
                channel="sms", body=f"Su código es {code}", phone=PHONE, is_sensitive=True, purpose="otp"
            )
            _wait_for(lambda: _message(message.pk).provider_message_id, what="the SID")
    finally:
        before_task_publish.disconnect(capture)

    assert published, "the task was published"
    for text in published:
        assert str(message.pk) in text
        assert code not in text and digits not in text
    assert fake_twilio.create_requests[0].form["Body"] == f"Su código es {code}"  # it did go out
    assert _message(message.pk).body == SENSITIVE_BODY_REDACTED

    worker.stop()
    worker_log = worker.log_text()
    assert "message_delivery" in worker_log and "succeeded" in worker_log
    assert code not in worker_log and digits not in worker_log

    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        assert code not in text and digits not in text

    from interactions.tasks import message_deliver_task

    result = message_deliver_task.apply(args=[str(message.pk)]).get()
    assert code not in repr(result) and digits not in repr(result)


def test_the_worker_keeps_its_database_connection_from_one_task_to_the_next(fake_twilio, celery_worker_factory, broker):
    """Celery's Django fixup would close the connection around every task (a new PostgreSQL backend per task, costlier
    than a one-row task); the worker reuses it, with Django's age, error and health checks between tasks."""
    from django.db import connection

    celery_worker_factory(env=_worker_env(fake_twilio, PGAPPNAME="cc-test-worker"))

    def worker_backends() -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, backend_start FROM pg_stat_activity WHERE application_name = 'cc-test-worker' "
                "AND datname = current_database()"
            )
            return cursor.fetchall()

    first = message_send(channel="sms", body="Uno", phone=PHONE)
    _wait_for(lambda: _message(first.pk).provider_message_id, what="the first SID")
    _wait_for(worker_backends, timeout=5, what="the worker's connection")
    (backend,) = worker_backends()

    later = [message_send(channel="sms", body=f"Mensaje {n}", phone=PHONE) for n in range(5)]
    for message in later:
        _wait_for(lambda message=message: _message(message.pk).provider_message_id, what="a SID")

    # The same backend served all of them, and is still open for the next task.
    assert worker_backends() == [backend]
    assert len(fake_twilio.create_requests) == 6
