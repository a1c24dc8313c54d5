"""Pytest fixtures to import into a test module (`from tests.support.fixtures import fake_twilio, ...  # noqa: F401`).
See tests/support/README.md."""

import pytest
from django.conf import settings as django_settings

from simulators.fake_builderbot import FakeBuilderBot
from simulators.fake_twilio import FakeTwilio

from .celery_worker import CeleryWorker, publishing_to_broker, purge_queue


@pytest.fixture
def fake_twilio():
    """A fake Twilio Messages API on loopback that accepts this test run's TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN."""
    fake = FakeTwilio(
        account_sid=django_settings.TWILIO_ACCOUNT_SID, auth_token=django_settings.TWILIO_AUTH_TOKEN
    ).start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_builderbot():
    """A fake BuilderBot send API on loopback that accepts this run's BUILDERBOT_API_KEY and BUILDERBOT_PROJECT_ID."""
    fake = FakeBuilderBot(
        api_key=django_settings.BUILDERBOT_API_KEY, project_id=django_settings.BUILDERBOT_PROJECT_ID
    ).start()
    yield fake
    fake.stop()


@pytest.fixture
def sms_via_fake_twilio(settings, fake_twilio):
    """In-process SMS sends (eager tasks, services) go to the fake Twilio through the real adapter."""
    settings.SMS_BACKEND = "auto"
    settings.TWILIO_API_BASE_URL = fake_twilio.url
    settings.MESSAGE_SEND_TIMEOUT_SECONDS = 2
    return fake_twilio


@pytest.fixture
def whatsapp_via_fake_builderbot(settings, fake_builderbot):
    """In-process WhatsApp sends go to the fake BuilderBot through the real adapter."""
    settings.WHATSAPP_BACKEND = "auto"
    settings.BUILDERBOT_API_URL = fake_builderbot.url
    settings.MESSAGE_SEND_TIMEOUT_SECONDS = 2
    return fake_builderbot


@pytest.fixture
def celery_worker_factory(transactional_db):
    """Start real Celery workers (subprocesses) on this run's queue, Redis database and test database:
    `worker = celery_worker_factory(env={"SMS_BACKEND": "auto", ...})`. The queue is purged first; every worker is
    stopped at teardown. `urgencies=("urgent",)` starts one that consumes the urgent queue alone (default: every
    queue). Needs PostgreSQL and Redis (mark the test `postgres`, `redis` and `slow`)."""
    workers: list[CeleryWorker] = []
    for queue in django_settings.CELERY_URGENCY_QUEUES.values():
        purge_queue(queue)

    def start(
        *,
        env: dict | None = None,
        concurrency: int = 1,
        pool: str = "prefork",
        urgencies: tuple[str, ...] | None = None,
    ) -> CeleryWorker:
        worker = CeleryWorker(env=env, concurrency=concurrency, pool=pool, urgencies=urgencies)
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.close()


@pytest.fixture
def broker():
    """The test process publishes tasks to the test Redis (not eagerly) while the fixture is active."""
    with publishing_to_broker() as app:
        yield app


@pytest.fixture
def sms_outbox(monkeypatch):
    """Every SMS the console backend sends, as (to, body): what reaches the customer's phone in tests."""
    from interactions.providers.console import ConsoleBackend

    sent: list[tuple[str, str]] = []
    original = ConsoleBackend.send

    def send(self, message):
        sent.append((message.to_phone, message.body))
        return original(self, message)

    monkeypatch.setattr(ConsoleBackend, "send", send)
    return sent


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    """Poll `predicate` until it returns something truthy (a worker's or a fake's work landing), and return it."""
    import time

    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return value
