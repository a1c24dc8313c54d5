"""The product served as production serves it, for tests that attack it over real HTTP: gunicorn (sync workers) with
DEBUG off, on the test database (pytest-django's `test_...`) and the test Redis, on a free loopback port.

Tasks run in-process (eager) unless the test passes `CELERY_TASK_ALWAYS_EAGER=false` and starts a worker. Everything
the server logs (stdout and stderr: the JSON lines of our logging and gunicorn's own) goes to a file the test can read
(`server.log_lines()`), so a test can prove what did and did not reach a log line."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from django.conf import settings

from .celery_worker import test_database_url

BASE_DIR = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProdServer:
    def __init__(self, *, env: dict | None = None, workers: int = 2):
        self.env = {key: str(value) for key, value in (env or {}).items()}
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="prod-server-", suffix=".log", delete=False)
        self.log_path = Path(self._log.name)

    def start(self, *, timeout: float = 60.0) -> "ProdServer":
        env = os.environ.copy()
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "contactcenter.test_settings",
                "DEBUG": "false",
                "DATABASE_URL": test_database_url(),
                "REDIS_URL": settings.REDIS_URL,
                "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
                "CELERY_TASK_ALWAYS_EAGER": "true",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_SSL_REDIRECT": "false",
                "PUBLIC_BASE_URL": self.url,
                "LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.env)
        command = [
            GUNICORN, "contactcenter.wsgi", "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
            "--worker-class", "sync", "--timeout", "60", "--log-level", "info",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start:\n{self.log_text()[-4000:]}")
            try:
                if requests.get(f"{self.url}/api/health", timeout=2).status_code in (200, 503):
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout}s:\n{self.log_text()[-4000:]}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_lines(self) -> list[str]:
        return self.log_text().splitlines()

    def log_records(self) -> list[dict]:
        """Our JSON log lines, parsed (gunicorn's own plain lines are left out)."""
        records = []
        for line in self.log_lines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    records.append(record)
        return records

    def log_mark(self) -> int:
        """The log's current length: `log_text_since(mark)` returns what was written after it."""
        return self.log_path.stat().st_size

    def log_text_since(self, mark: int) -> str:
        with self.log_path.open("rb") as handle:
            handle.seek(mark)
            return handle.read().decode(errors="replace")

    def stop(self, *, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def close(self) -> None:
        self.stop()
        self._log.close()
        if os.environ.get("TEST_KEEP_SERVER_LOGS"):  # to read what a failing test's server said
            print(f"server log kept: {self.log_path}")
            return
        with contextlib.suppress(OSError):
            self.log_path.unlink()
