"""Settings for the test suite: the production settings module, fed test values, on the real services.

PostgreSQL and Redis are used at DATABASE_URL / REDIS_URL, or at their local default addresses. When one cannot be
reached: in CI (CI=true) that is an error; elsewhere the suite says so, runs on SQLite / in-process, and skips by name
the tests that need the missing service (markers `postgres` and `redis`)."""

import os
import socket
from urllib.parse import urlparse


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def _service(name: str, url: str, default_port: int) -> bool:
    if _reachable(url, default_port):
        return True
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise RuntimeError(f"CI=true but {name} cannot be reached at {urlparse(url).netloc}: start it and run again.")
    return False


_database_url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/contactcenter"
if not _database_url.startswith("sqlite") and _service("PostgreSQL", _database_url, 5432):
    os.environ["DATABASE_URL"] = _database_url
    os.environ["CC_TEST_POSTGRES"] = "1"
else:
    os.environ["DATABASE_URL"] = "sqlite:///:memory:"
    os.environ["CC_TEST_POSTGRES"] = "0"

_redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
if _service("Redis", _redis_url, 6379):
    os.environ["REDIS_URL"] = _redis_url
    os.environ["CC_TEST_REDIS"] = "1"
else:
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("REDIS_HOST", None)
    os.environ["CC_TEST_REDIS"] = "0"

_TEST_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "test-secret-key-not-for-production-0123456789abcdefghijklmnop",
    "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",
    "CELERY_TASK_ALWAYS_EAGER": "true",
    "ELEVENLABS_WEBHOOK_TOKEN": "test-elevenlabs-token",
    "ELEVENLABS_WEBHOOK_SECRET": "wsec_test_fixture_secret_do_not_use",
    "BUILDERBOT_WEBHOOK_TOKEN": "test-builderbot-token",
    "TWILIO_WEBHOOK_TOKEN": "test-twilio-token",
    "TWILIO_ACCOUNT_SID": "ACtest00000000000000000000000000",
    "TWILIO_AUTH_TOKEN": "0123456789abcdef0123456789abcdef",
    "TWILIO_FROM_NUMBER": "+15005550006",
    "BUILDERBOT_API_KEY": "bb-00000000-0000-4000-8000-000000000000",
    "BUILDERBOT_PROJECT_ID": "00000000-0000-4000-8000-000000000001",
    "SMS_BACKEND": "console",
    "WHATSAPP_BACKEND": "console",
    "LOG_LEVEL": "INFO",
}
for _name, _value in _TEST_ENV.items():
    os.environ.setdefault(_name, _value)

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
