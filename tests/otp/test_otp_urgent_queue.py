"""An OTP's SMS goes ahead of bulk work: `POST /api/otp` publishes its delivery to the urgent queue, which a worker
of its own consumes, so the code leaves while bulk messages wait; a retry stays on the urgent queue."""

import json

import pytest
import redis
from django.conf import settings

from interactions.models import Message, MessageStatus
from interactions.services import message_send
from otp.models import OtpChallenge
from simulators.fake_twilio import too_many_requests
from tests.support.fixtures import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
BULK_PHONE = "+5215511112222"


def _tasks_waiting(urgency: str) -> list[str]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    return [json.loads(raw)["headers"]["task"] for raw in client.lrange(settings.CELERY_URGENCY_QUEUES[urgency], 0, -1)]


def test_the_code_s_delivery_is_published_to_the_urgent_queue(api, celery_worker_factory, broker):
    # celery_worker_factory only purges this run's queues here: no worker is started, the tasks stay where they went.
    created = api.post("/api/otp", {"phone": "+5215512345678", "purpose": "login"}, format="json")

    assert created.status_code == 201
    assert _tasks_waiting("urgent") == ["interactions.message_deliver"]
    assert _tasks_waiting("default") == []
    # The task carries the message id only, never the code.
    raw = redis.Redis.from_url(settings.REDIS_URL).lrange(settings.CELERY_URGENCY_QUEUES["urgent"], 0, -1)[0]
    message = OtpChallenge.objects.get(pk=created.json()["id"]).message
    assert json.loads(raw)["headers"]["argsrepr"] == repr((str(message.pk),))


@pytest.mark.slow
def test_the_urgent_worker_sends_the_code_and_its_retry_while_bulk_messages_wait(
    api, fake_twilio, celery_worker_factory, broker
):
    # Bulk work queued first, on the default queue, which no worker consumes in this test.
    bulk = [message_send(channel="sms", body=f"Aviso {n}", phone=BULK_PHONE, purpose="statement") for n in range(20)]
    # The worker of the urgent queue alone; Twilio refuses the first create (429): the retry must come back to it.
    fake_twilio.fail_next(too_many_requests(retry_after=0))
    worker = celery_worker_factory(
        env={
            "SMS_BACKEND": "auto",
            "TWILIO_API_BASE_URL": fake_twilio.url,
            "PUBLIC_BASE_URL": "",
            "MESSAGE_RETRY_BASE_DELAY_SECONDS": "0.2",
        },
        pool="threads",
        concurrency=2,
        urgencies=("urgent",),
    )

    created = api.post("/api/otp", {"phone": "+5215512345678", "purpose": "login"}, format="json")
    assert created.status_code == 201

    message = OtpChallenge.objects.get(pk=created.json()["id"]).message
    wait_for(
        lambda: Message.objects.filter(pk=message.pk, provider_message_id__isnull=False).exists(),
        timeout=30,
        what=f"the code accepted by the fake after its retry\n{worker.log_text()[-3000:]}",
    )
    assert [r.form["To"] for r in fake_twilio.create_requests] == ["+525512345678", "+525512345678"]
    assert len(fake_twilio.messages) == 1
    assert Message.objects.get(pk=message.pk).send_attempts == 2
    # The bulk messages were not touched by the urgent worker: still queued, their wake-up calls still waiting.
    assert set(Message.objects.filter(pk__in=[m.pk for m in bulk]).values_list("status", flat=True)) == {
        MessageStatus.QUEUED
    }
    assert len(_tasks_waiting("default")) == len(bulk)
