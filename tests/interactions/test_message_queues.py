"""Outbound deliveries by urgency and under a threads pool: which queue a delivery is published to (the message's
purpose decides; the sweeper keeps it), the claim that lets one attempt of many send, with a real worker running
threads, and the provider connection each thread keeps open."""

import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from interactions.models import Message, MessageStatus
from interactions.services import message_send, message_sweep
from interactions.tasks import message_deliver_task
from simulators.fake_twilio import slow_accept
from tests.support.celery_worker import purge_queue
from tests.support.fixtures import wait_for

PHONE = "+5215512345678"


def _delivery_queues() -> dict[str, list[str]]:
    """Message ids whose delivery waits in each queue, by urgency."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    found: dict[str, list[str]] = {}
    for urgency, queue in settings.CELERY_URGENCY_QUEUES.items():
        found[urgency] = []
        for raw in reversed(client.lrange(queue, 0, -1)):
            headers = json.loads(raw)["headers"]
            if headers["task"] == message_deliver_task.name:
                found[urgency].append(headers["argsrepr"].strip("()',"))
    return found


@pytest.fixture
def queues(broker):
    for queue in settings.CELERY_URGENCY_QUEUES.values():
        purge_queue(queue)
    yield
    for queue in settings.CELERY_URGENCY_QUEUES.values():
        purge_queue(queue)


def test_every_queue_name_derives_from_the_runs_celery_queue():
    # What isolates a test run or a benchmark from another: all of its queues carry its CELERY_QUEUE.
    assert settings.CELERY_URGENCY_QUEUES["default"] == settings.CELERY_TASK_DEFAULT_QUEUE
    urgent = settings.CELERY_URGENCY_QUEUES["urgent"]
    assert urgent != settings.CELERY_TASK_DEFAULT_QUEUE
    assert urgent.startswith(settings.CELERY_TASK_DEFAULT_QUEUE)
    # A worker without -Q consumes every one of them.
    assert {queue.name for queue in settings.CELERY_TASK_QUEUES} == set(settings.CELERY_URGENCY_QUEUES.values())


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_one_time_code_is_published_to_the_urgent_queue_and_other_messages_to_the_default_one(queues):
    code = message_send(channel="sms", body="Su código es 123456", phone=PHONE, purpose="otp", is_sensitive=True)
    notice = message_send(channel="sms", body="Su estado de cuenta está listo.", phone=PHONE, purpose="statement")
    reply = message_send(channel="sms", body="Hola", phone=PHONE)

    assert _delivery_queues() == {"urgent": [str(code.pk)], "default": [str(notice.pk), str(reply.pk)]}


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_sweeper_publishes_a_lost_code_to_the_urgent_queue_again(queues, monkeypatch):
    monkeypatch.setattr("interactions.services.messages.enqueue_on_commit", lambda *args, **kwargs: None)  # lost
    code = message_send(channel="sms", body="Su código es 123456", phone=PHONE, purpose="otp", is_sensitive=True)
    notice = message_send(channel="sms", body="Aviso", phone=PHONE, purpose="statement")
    stuck = message_send(channel="sms", body="Su código es 654321", phone=PHONE, purpose="otp", is_sensitive=True)
    long_ago = timezone.now() - timedelta(hours=1)
    Message.objects.update(updated_at=long_ago, queued_at=timezone.now())
    # A worker died in the middle of this one's send.
    Message.objects.filter(pk=stuck.pk).update(status=MessageStatus.SENDING, last_attempt_at=long_ago)

    report = message_sweep()

    assert (report.requeued, report.recovered) == (2, 1)
    queued = _delivery_queues()
    assert sorted(queued["urgent"]) == sorted([str(code.pk), str(stuck.pk)])
    assert queued["default"] == [str(notice.pk)]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_with_a_threads_pool_each_message_is_sent_once_however_many_wake_up_calls_race(
    fake_twilio, celery_worker_factory, broker, monkeypatch
):
    # Each message gets four wake-up calls side by side in the queue, so the worker's threads take them together;
    # slow creates keep several threads inside their sends at once.
    monkeypatch.setattr("interactions.services.messages.enqueue_on_commit", lambda *args, **kwargs: None)
    messages = [message_send(channel="sms", body=f"Aviso {n}", phone=PHONE, purpose="statement") for n in range(12)]
    for queue in settings.CELERY_URGENCY_QUEUES.values():
        purge_queue(queue)
    for message in messages:
        for _ in range(4):
            message_deliver_task.delay(str(message.pk))
    fake_twilio.misbehave_for(60, slow_accept(0.2))
    worker = celery_worker_factory(
        env={"SMS_BACKEND": "auto", "TWILIO_API_BASE_URL": fake_twilio.url, "PUBLIC_BASE_URL": ""},
        pool="threads",
        concurrency=8,
    )

    ids = [m.pk for m in messages]
    wait_for(
        lambda: Message.objects.filter(pk__in=ids, provider_message_id__isnull=False).count() == len(ids),
        timeout=60,
        what=f"every message accepted by the fake\n{worker.log_text()[-3000:]}",
    )
    wait_for(lambda: worker.log_text().count("succeeded") >= 4 * len(ids), timeout=30, what="every wake-up call run")

    bodies = [request.form["Body"] for request in fake_twilio.create_requests]
    assert sorted(bodies) == sorted(f"Aviso {n}" for n in range(12)), "each message created once at the provider"
    # The sends overlapped (a threads pool), and each thread kept its connection: fewer connections than creates.
    peers = {request.peer for request in fake_twilio.create_requests}
    assert 1 < len(peers) <= 8
    rows = Message.objects.filter(pk__in=ids)
    assert {row.send_attempts for row in rows} == {1}
    assert {row.provider_message_id for row in rows} == set(fake_twilio.messages)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sends_from_one_thread_reuse_one_connection_to_twilio(sms_via_fake_twilio):
    # Eager tasks: each message is sent in this thread as it is queued.
    for n in range(5):
        message_send(channel="sms", body=f"Aviso {n}", phone=PHONE)

    creates = sms_via_fake_twilio.create_requests
    assert len(creates) == 5
    assert len({request.peer for request in creates}) == 1, "one kept-alive connection, not one per message"
    assert Message.objects.filter(provider_message_id__isnull=False).count() == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_proxy_set_in_the_environment_still_carries_the_sends(sms_via_fake_twilio, settings, monkeypatch):
    # The session reads the environment once instead of on every request: a proxy set for the process is still used.
    # Twilio's host here does not exist; only the proxy (the fake, which also answers absolute-URI requests) knows it.
    monkeypatch.setenv("HTTP_PROXY", sms_via_fake_twilio.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    settings.TWILIO_API_BASE_URL = "http://api.twilio.invalid"

    message_send(channel="sms", body="Aviso", phone=PHONE)

    assert len(sms_via_fake_twilio.create_requests) == 1
    assert Message.objects.get().provider_message_id in sms_via_fake_twilio.messages
