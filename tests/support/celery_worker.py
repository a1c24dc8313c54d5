"""A real Celery worker subprocess against the test database, on the test's own queue and Redis database, and a
switch that makes the test process publish tasks to a broker instead of running them eagerly."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """The URL of the database the tests run on (pytest-django's `test_...` database)."""
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("a worker subprocess needs the PostgreSQL test database (mark the test `postgres`)")
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def purge_queue(queue: str, broker_url: str | None = None) -> int:
    """Drop the messages left on `queue` (a previous run's tasks)."""
    from kombu import Connection

    with Connection(broker_url or settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
        return conn.default_channel.queue_purge(queue) or 0


class CeleryWorker:
    """`celery -A contactcenter worker` in a subprocess, with the test settings, the test database and `env`."""

    def __init__(
        self,
        *,
        env: dict | None = None,
        queue: str | None = None,
        concurrency: int = 1,
        pool: str = "prefork",
        urgencies: tuple[str, ...] | None = None,
    ):
        """`queue`: the run's CELERY_QUEUE (every queue name derives from it). `urgencies`: the queues consumed, by
        urgency (settings.CELERY_URGENCY_QUEUES); None: all of them, as `make worker` does."""
        self.queue = queue or settings.CELERY_TASK_DEFAULT_QUEUE
        self.urgencies = urgencies or tuple(settings.CELERY_URGENCY_QUEUES)
        # The names the worker derives from its CELERY_QUEUE, as the settings derive them from the run's.
        prefix = settings.CELERY_TASK_DEFAULT_QUEUE
        self.queues = [self.queue + settings.CELERY_URGENCY_QUEUES[u][len(prefix) :] for u in self.urgencies]
        self.env = dict(env or {})
        self.concurrency = concurrency
        self.pool = pool
        self.process: subprocess.Popen | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="celery-worker-", suffix=".log", delete=False)
        self.log_path = Path(self._log.name)

    def start(self, *, timeout: float = 60.0) -> "CeleryWorker":
        env = os.environ.copy()
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "contactcenter.test_settings",
                "DATABASE_URL": test_database_url(),
                "REDIS_URL": settings.REDIS_URL,
                "CELERY_QUEUE": self.queue,
                "CELERY_TASK_ALWAYS_EAGER": "false",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update({key: str(value) for key, value in self.env.items()})
        command = [
            sys.executable, "-m", "celery", "-A", "contactcenter", "worker",
            "-Q", ",".join(self.queues), "-P", self.pool, "-c", str(self.concurrency),
            "-n", f"test-{uuid.uuid4().hex[:8]}@%h",
            "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited at start:\n{self.log_text()[-4000:]}")
            if " ready." in self.log_text():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the Celery worker was not ready within {timeout}s:\n{self.log_text()[-4000:]}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once (a crash: no warm shutdown)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, *, timeout: float = 20.0) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL of the group if it does not end in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def close(self) -> None:
        self.stop()
        self._log.close()
        with contextlib.suppress(OSError):
            self.log_path.unlink()


def _reset_broker_pools(app) -> None:
    """Start from fresh broker connections: kombu keeps one pool per broker URL and hands it back, even closed (by
    another test), when that URL is used again."""
    from kombu import pools

    pools.reset()
    app._pool = None
    with contextlib.suppress(AttributeError, KeyError):
        app.__dict__["amqp"]._producer_pool = None


@contextlib.contextmanager
def publishing_to_broker(broker_url: str | None = None):
    """Within the block, the test process publishes tasks to `broker_url` (default: the test Redis) instead of
    running them eagerly. Pass a dead address (redis://127.0.0.1:1/0) to act as if Redis were down."""
    from contactcenter.celery import app

    saved = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    app.conf.broker_url = broker_url or settings.CELERY_BROKER_URL
    _reset_broker_pools(app)
    try:
        yield app
    finally:
        app.conf.task_always_eager, app.conf.broker_url = saved
        _reset_broker_pools(app)
