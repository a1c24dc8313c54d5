"""A real Celery worker keeps running when Redis goes away while it holds a task (acks_late: the message is
unacknowledged), reconnects when Redis is back, and the message is still sent exactly once."""

import time

import pytest

from bench.stack import PrivateRedis
from interactions.models import Message
from interactions.services import message_send
from simulators.fake_twilio import slow_accept
from tests.support.celery_worker import publishing_to_broker
from tests.support.fixtures import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_worker_survives_redis_going_away_in_the_middle_of_a_task(tmp_path, fake_twilio, celery_worker_factory):
    # A Redis of its own, which this test may stop (never the shared one).
    private_redis = PrivateRedis(tmp_path / "redis").start()
    try:
        fake_twilio.misbehave_for(60, slow_accept(2))
        worker = celery_worker_factory(
            env={
                "REDIS_URL": private_redis.url(),
                "SMS_BACKEND": "auto",
                "TWILIO_API_BASE_URL": fake_twilio.url,
                "PUBLIC_BASE_URL": "http://127.0.0.1:9",
            }
        )
        with publishing_to_broker(private_redis.url()):
            message = message_send(channel="sms", body="Su folio es 7.", phone="+5215512345678")
        wait_for(lambda: fake_twilio.create_requests, timeout=30, what="the send to reach the fake")

        private_redis.stop()
        wait_for(lambda: "Connection to broker lost" in worker.log_text(), timeout=10, what="the worker to notice")
        time.sleep(1)
        assert worker.process.poll() is None, worker.log_text()[-4000:]
        private_redis.start()

        wait_for(lambda: worker.log_text().count("Connected to") >= 2, timeout=30, what="the worker to reconnect")
        sid = wait_for(lambda: Message.objects.get(pk=message.pk).provider_message_id, timeout=30, what="the SID")
        assert worker.process.poll() is None
        assert "Unrecoverable error" not in worker.log_text()
        assert list(fake_twilio.messages) == [sid]
    finally:
        private_redis.stop()
