"""Starts the product as production runs it, on this machine: a fresh PostgreSQL database, gunicorn serving
`contactcenter.wsgi`, a Celery worker, and the fake providers; measures peak RSS; stops everything."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent

BENCH_DB = os.environ.get("BENCH_DB", "cc_bench")
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ACCOUNT_SID = "ACbench0000000000000000000000000"
AUTH_TOKEN = "benchauthtoken0123456789abcdef00"
TOKENS = {
    "ELEVENLABS_WEBHOOK_TOKEN": "bench-el",
    "BUILDERBOT_WEBHOOK_TOKEN": "bench-bb",
    "TWILIO_WEBHOOK_TOKEN": "bench-tw",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(name: str = BENCH_DB) -> str:
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def recreate_database(name: str = BENCH_DB) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(name: str = BENCH_DB) -> bool:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def production_env(
    *, web_url: str, twilio_url: str = "", builderbot_url: str = "", queue: str = "bench", extra: dict | None = None
) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CI"))}
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + secrets.token_urlsafe(48),
            "DATABASE_URL": database_url(),
            "REDIS_URL": BENCH_REDIS_URL,
            "CELERY_QUEUE": queue,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "PUBLIC_BASE_URL": web_url,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": "+15005550006",
            "TWILIO_API_BASE_URL": twilio_url,
            "BUILDERBOT_API_URL": builderbot_url or "http://127.0.0.1:9",
            "BUILDERBOT_API_KEY": "bb-bench",
            "BUILDERBOT_PROJECT_ID": "bench-project",
            "SMS_BACKEND": "auto" if twilio_url else "console",
            "WHATSAPP_BACKEND": "auto" if builderbot_url else "console",
            "BENCH_ENDPOINTS": "true",
            "LOG_LEVEL": "WARNING",
            "ADMIN_2FA_REQUIRED": "false",
            **TOKENS,
        }
    )
    env.update(extra or {})
    return env


def manage(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=check, capture_output=True, text=True)


def _peak_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    return [int(p) for p in out.split()]


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    peak_rss_kib: dict[int, int] = field(default_factory=dict)

    def sample_rss(self) -> None:
        for pid in [self.process.pid, *_children(self.process.pid)]:
            self.peak_rss_kib[pid] = max(self.peak_rss_kib.get(pid, 0), _peak_rss_kib(pid))

    def max_child_rss_mib(self) -> float:
        """The largest peak RSS of one process of the service (a web worker, a Celery pool process)."""
        children = _children(self.process.pid)
        values = [self.peak_rss_kib.get(pid, 0) for pid in children] or list(self.peak_rss_kib.values())
        return round(max(values or [0]) / 1024, 1)

    def stop(self) -> None:
        self.sample_rss()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_gunicorn(env: dict, port: int, workers: int = 3) -> Service:
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "contactcenter.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--keep-alive",
            "5",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code in (200, 503):
                return Service("web", process)
        except requests.RequestException:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def start_worker(env: dict, concurrency: int = 4, pool: str = "prefork") -> Service:
    log = open(ROOT / "artifacts" / "bench-worker.log", "a")
    process = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "contactcenter",
            "worker",
            "-Q",
            env["CELERY_QUEUE"],
            "--concurrency",
            str(concurrency),
            "--pool",
            pool,
            "--loglevel",
            "WARNING",
            "--include",
            "bench.tasks",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"bench-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    time.sleep(3)
    if process.poll() is not None:
        raise RuntimeError("the Celery worker did not start: see artifacts/bench-worker.log")
    return Service("worker", process)


@contextmanager
def services(*items: Service):
    try:
        yield items
    finally:
        for item in items:
            item.stop()
