"""Starts the product as production runs it, on this machine: a fresh PostgreSQL database, gunicorn serving
`contactcenter.wsgi`, a Celery worker and beat, and the fake providers; measures peak RSS; stops everything.

The fault tests (`bench.faults`) also start private servers here: a `redis-server` and a PostgreSQL cluster of their
own on free ports, which they stop and restart at will without touching the shared ones."""

import os
import platform
import secrets
import shutil
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
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")
ACCOUNT_SID = "ACbench0000000000000000000000000"
AUTH_TOKEN = "benchauthtoken0123456789abcdef00"
TOKENS = {
    "ELEVENLABS_WEBHOOK_TOKEN": "bench-el",
    "BUILDERBOT_WEBHOOK_TOKEN": "bench-bb",
    "TWILIO_WEBHOOK_TOKEN": "bench-tw",
}


def machine_description() -> str:
    """The CPU model and core count, memory and Python version, for the reports."""
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    try:
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    except (OSError, IndexError):
        memory = "?"
    return f"{model}, {os.cpu_count()} cores; memory {memory}; Python {platform.python_version()}, {platform.system()}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(name: str = BENCH_DB) -> str:
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def recreate_database(name: str = BENCH_DB, *, template: str | None = None) -> None:
    """Drop and create `name`, empty or as a copy of `template` (whose open connections are closed first)."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if template:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [template])
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(name: str = BENCH_DB) -> bool:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def production_env(
    *,
    web_url: str,
    twilio_url: str = "",
    builderbot_url: str = "",
    queue: str = "bench",
    db_url: str | None = None,
    redis_url: str | None = None,
    extra: dict | None = None,
) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CI"))}
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + secrets.token_urlsafe(48),
            "DATABASE_URL": db_url or database_url(),
            "REDIS_URL": redis_url or BENCH_REDIS_URL,
            # A caller inside the test suite has the suite's eager switch in its environment.
            "CELERY_TASK_ALWAYS_EAGER": "false",
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
                self.kill()

    def kill(self) -> None:
        """SIGKILL the service and the processes it started, all at once (a crash: a Celery pool process dies in
        the middle of its task too)."""
        children = _children(self.process.pid)
        for pid in [self.process.pid, *children]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)


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


def _wait_for_log_line(process: subprocess.Popen, log_path: Path, marker: str, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited at start: see {log_path}")
        if marker in log_path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise RuntimeError(f"{what} was not ready after {timeout:.0f} s: see {log_path}")


# The queues by urgency, as contactcenter/settings.py derives them from CELERY_QUEUE (CELERY_URGENCY_QUEUES).
URGENCY_SUFFIXES = {"default": "", "urgent": "-urgent"}


def worker_queues(env: dict, urgencies: tuple[str, ...] = tuple(URGENCY_SUFFIXES)) -> str:
    """The `-Q` argument of a worker that consumes the queues of `urgencies` (default: all, as `make worker`)."""
    return ",".join(env["CELERY_QUEUE"] + URGENCY_SUFFIXES[urgency] for urgency in urgencies)


def start_worker(
    env: dict,
    concurrency: int = 4,
    pool: str = "prefork",
    *,
    urgencies: tuple[str, ...] = tuple(URGENCY_SUFFIXES),
    log_path: Path | None = None,
    name: str | None = None,
    ready_timeout: float = 60.0,
    service_name: str = "worker",
) -> Service:
    """A Celery worker on the queues of `urgencies` (derived from `env["CELERY_QUEUE"]`; default all of them), with
    `pool` (prefork, threads). With `log_path` it logs at INFO there and is returned once it says it is ready;
    without, it logs warnings to artifacts/bench-worker.log and is given three seconds."""
    target = log_path or ROOT / "artifacts" / "bench-worker.log"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a") as log:
        process = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "contactcenter",
                "worker",
                "-Q",
                worker_queues(env, urgencies),
                "--concurrency",
                str(concurrency),
                "--pool",
                pool,
                "--loglevel",
                "INFO" if log_path else "WARNING",
                "--include",
                "bench.tasks",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                name or f"bench-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if log_path:
        _wait_for_log_line(process, log_path, " ready.", ready_timeout, "the Celery worker")
    else:
        time.sleep(3)
        if process.poll() is not None:
            raise RuntimeError("the Celery worker did not start: see artifacts/bench-worker.log")
    return Service(service_name, process)


def start_beat(env: dict, *, state_dir: Path, log_path: Path) -> Service:
    """Celery beat with the product's schedule (its intervals come from `env`), its state files in `state_dir`."""
    with open(log_path, "a") as log:
        process = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "contactcenter",
                "beat",
                "--schedule",
                str(state_dir / "celerybeat-schedule"),
                "--pidfile",
                str(state_dir / "celerybeat.pid"),
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    _wait_for_log_line(process, log_path, "beat: Starting", 60, "Celery beat")
    return Service("beat", process)


# --- private servers for the fault tests ------------------------------------------------------------------------


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: its programs then run as the `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PrivateRedis:
    """A `redis-server` of our own on a free port, without persistence: a restart starts it empty."""

    def __init__(self, work_dir: Path, port: int | None = None):
        self.work_dir = work_dir
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 10.0) -> "PrivateRedis":
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with open(self.work_dir / "redis.log", "a") as log:
            self.process = subprocess.Popen(
                [
                    REDIS_SERVER,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.work_dir),
                    "--loglevel",
                    "warning",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited at start: see {self.work_dir / 'redis.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not answer PING")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class PrivatePostgres:
    """A PostgreSQL cluster of our own: data directory under `work_dir`, a free port, trust authentication for
    `postgres` on 127.0.0.1. Durability settings are off (nothing here outlives the run)."""

    def __init__(self, work_dir: Path, port: int | None = None):
        self.work_dir = work_dir
        self.data_dir = work_dir / "pgdata"
        self.log_path = work_dir / "postgres.log"
        self.port = port or free_port()
        self.running = False

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(_as_postgres(list(args)), capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}")

    def init(self) -> "PrivatePostgres":
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.work_dir, "postgres", "postgres")
            # The postgres user must be able to reach its directory (a temp dir is made 0700 for root).
            parent = self.work_dir.parent
            if not parent.stat().st_mode & 0o001:
                parent.chmod(parent.stat().st_mode | 0o711)
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        return self

    def start(self) -> "PrivatePostgres":
        options = (
            f"-p {self.port} -k {self.work_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path), "-o", options, "-w", "start"
        )
        self.running = True
        return self

    def stop(self, mode: str = "fast") -> None:
        """`fast`: running transactions are rolled back and connections closed; `immediate`: a crash."""
        if self.running:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop")
            self.running = False

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')


@contextmanager
def services(*items: Service):
    try:
        yield items
    finally:
        for item in items:
            item.stop()
