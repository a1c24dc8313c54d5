"""End to end: a real Celery worker on Redis sends the SMS to the fake Twilio over HTTP, the fake's signed status
callbacks reach our webhook (live server), and the code the fake received verifies the challenge."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from contactcenter.celery import app as celery_app
from interactions.models import Message
from otp.models import OtpChallenge
from simulators.fake_twilio import FakeTwilio

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def fake_twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def worker(transactional_db, live_server, fake_twilio, settings, tmp_path):
    """A Celery worker process on this test's database and queue, sending SMS to the fake Twilio."""
    settings.PUBLIC_BASE_URL = live_server.url
    queue = os.environ.get("CELERY_QUEUE", "celery")
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contactcenter.test_settings",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_QUEUE": queue,
        "SMS_BACKEND": "auto",
        "TWILIO_API_BASE_URL": fake_twilio.url,
        "PUBLIC_BASE_URL": live_server.url,
    }
    celery_app.control.purge()  # leftovers of an earlier run on this queue
    log_path = tmp_path / "worker.log"
    log = open(log_path, "w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "contactcenter",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    previous_eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        _wait_for(lambda: "ready." in log_path.read_text() or process.poll() is not None, what="the worker")
        assert process.poll() is None, log_path.read_text()[-3000:]
        yield process
    finally:
        celery_app.conf.task_always_eager = previous_eager
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def test_create_sends_the_code_through_the_worker_and_the_fake_and_it_verifies(api, worker, fake_twilio, tmp_path):
    created = api.post("/api/otp", {"phone": "+5215512345678", "purpose": "login"}, format="json")
    assert created.status_code == 201
    challenge_id = created.json()["id"]

    request = _wait_for(lambda: fake_twilio.create_requests, what="the SMS at the fake Twilio")[0]
    form = request.form
    assert form["To"] == "+5215512345678"
    code = re.search(r"\b(\d{6})\b", form["Body"]).group(1)

    message = OtpChallenge.objects.get(pk=challenge_id).message
    _wait_for(
        lambda: Message.objects.filter(pk=message.pk, provider_message_id__isnull=False).exists(),
        what="the SID stored on the message",
    )
    assert code not in Message.objects.get(pk=message.pk).body, "the code left the database once sent"

    fake_twilio.wait_for_callbacks(timeout=20)
    _wait_for(
        lambda: api.get(f"/api/otp/{challenge_id}").json()["delivery_status"] == "delivered",
        timeout=30,
        what="the delivered status callback",
    )

    verified = api.post("/api/otp/verify", {"id": challenge_id, "code": code}, format="json")
    assert verified.status_code == 200, (tmp_path / "worker.log").read_text()[-3000:]
    assert verified.json() == {"status": "approved", "verified": True}
    assert len(fake_twilio.create_requests) == 1
