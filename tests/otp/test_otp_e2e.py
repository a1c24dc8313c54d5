"""End to end: a real Celery worker on Redis sends the SMS to the fake Twilio over HTTP, the fake's signed status
callbacks reach our webhook (live server), and the code the fake received verifies the challenge."""

import re

import pytest

from interactions.models import Message
from otp.models import OtpChallenge
from tests.support.fixtures import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(live_server, fake_twilio, celery_worker_factory, broker, settings):
    """A real Celery worker (tests/support) sending SMS to the fake Twilio, whose signed status callbacks reach our
    webhook on the live server; the test process publishes to Redis instead of running tasks eagerly."""
    settings.PUBLIC_BASE_URL = live_server.url
    return celery_worker_factory(
        env={"SMS_BACKEND": "auto", "TWILIO_API_BASE_URL": fake_twilio.url, "PUBLIC_BASE_URL": live_server.url}
    )


def test_create_sends_the_code_through_the_worker_and_the_fake_and_it_verifies(api, worker, fake_twilio):
    created = api.post("/api/otp", {"phone": "+5215512345678", "purpose": "login"}, format="json")
    assert created.status_code == 201
    challenge_id = created.json()["id"]

    request = wait_for(lambda: fake_twilio.create_requests, what="the SMS at the fake Twilio")[0]
    form = request.form
    assert form["To"] == "+525512345678"  # the canonical number, whatever spelling the client sent
    code = re.search(r"\b(\d{6})\b", form["Body"]).group(1)

    message = OtpChallenge.objects.get(pk=challenge_id).message
    wait_for(
        lambda: Message.objects.filter(pk=message.pk, provider_message_id__isnull=False).exists(),
        what="the SID stored on the message",
    )
    assert code not in Message.objects.get(pk=message.pk).body, "the code left the database once sent"

    fake_twilio.wait_for_callbacks(timeout=20)
    wait_for(
        lambda: api.get(f"/api/otp/{challenge_id}").json()["delivery_status"] == "delivered",
        timeout=30,
        what="the delivered status callback",
    )

    verified = api.post("/api/otp/verify", {"id": challenge_id, "code": code}, format="json")
    assert verified.status_code == 200, worker.log_text()[-3000:]
    assert verified.json() == {"status": "approved", "verified": True}
    assert len(fake_twilio.create_requests) == 1
