"""The shared fixtures of tests/support (fake providers, a real Celery worker, the broker switch) for these tests."""

from tests.support.fixtures import (  # noqa: F401
    broker,
    celery_worker_factory,
    fake_builderbot,
    fake_twilio,
    sms_via_fake_twilio,
    whatsapp_via_fake_builderbot,
)
