"""Fault tests against the whole stack: each scenario breaks a real service while clients and the worker are busy,
lets it recover, and proves by counts (the database against the fake Twilio's log) that nothing was lost and nothing
was sent twice.

    .venv/bin/python -m bench.faults                          # every scenario; writes docs/faults.md
    .venv/bin/python -m bench.faults --only redis_stopped     # some of them (names in SCENARIOS)

Everything runs on private servers started here (a PostgreSQL cluster and a redis-server on free ports, under a temp
dir), never on the shared ones: gunicorn with production settings, the two Celery workers of the Procfile (urgent
queue and the rest, threads pool), Celery beat with short sweep and
reconcile intervals, and the fake Twilio in this process over real HTTP. Each scenario returns a dict: what the
clients saw (status codes, max and p99 latency, overall and during the fault) and the counts (messages by status,
creates at the fake per message, duplicates, lost). `tests/faults/test_faults.py` runs the same functions and
asserts on them."""

import argparse
import json
import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis
import requests

from bench.loadgen import percentile
from bench.stack import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    ROOT,
    TOKENS,
    PrivatePostgres,
    PrivateRedis,
    Service,
    free_port,
    machine_description,
    manage,
    production_env,
    start_beat,
    start_gunicorn,
    start_worker,
    worker_queues,
)
from simulators.fake_twilio import FakeTwilio, server_error, slow_accept, too_many_requests

QUEUE = "faults"
DELIVER_TASK = "interactions.message_deliver"
DATABASE = "contactcenter"
WEB_WORKERS = 3
WORKER_CONCURRENCY = 4
# As the Procfile runs them: one worker for the urgent queue (OTP codes), one for the rest, both in threads.
WORKER_POOL = "threads"
# Short intervals so that recovery happens within seconds; the relations the product checks still hold
# (sending timeout above the task's hard time limit, retry cap below the broker visibility timeout).
FAULT_SETTINGS = {
    "THROTTLE_RATE_OTP": "100000/min",
    "THROTTLE_RATE_WRITES": "100000/min",
    "OTP_CLIENT_RATE_LIMIT_MAX": "1000000",
    "MESSAGE_SWEEP_INTERVAL_SECONDS": "1",
    "MESSAGE_SWEEP_QUEUED_AFTER_SECONDS": "3",
    "CELERY_TASK_TIME_LIMIT": "6",
    "CELERY_TASK_SOFT_TIME_LIMIT": "5",
    "MESSAGE_SENDING_TIMEOUT_SECONDS": "7",
    "MESSAGE_SEND_TIMEOUT_SECONDS": "3",
    "MESSAGE_RETRY_BASE_DELAY_SECONDS": "0.5",
    "MESSAGE_RETRY_MAX_DELAY_SECONDS": "4",
    "MESSAGE_UNCERTAIN_RECHECK_SECONDS": "1",
    "SMS_RECONCILE_INTERVAL_SECONDS": "2",
    "SMS_RECONCILE_OLDER_THAN_SECONDS": "4",
    "DATABASE_CONNECT_TIMEOUT": "2",
}
# Statuses a message does not leave by itself.
SETTLED_STATUSES = ("delivered", "failed", "undelivered")
# A client gives up on an answer after this long: a hang shows as status 0 with this latency.
CLIENT_TIMEOUT_SECONDS = 10.0


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# --- the stack ----------------------------------------------------------------------------------------------------


@dataclass
class FaultStack:
    """The product on private servers. Scenarios stop and restart pieces of it; `close` stops everything."""

    work_dir: Path
    postgres: PrivatePostgres
    redis: PrivateRedis
    fake: FakeTwilio
    env: dict
    web_url: str
    api_key: str
    web: Service
    beat: Service
    # The urgent queue's worker (OTP codes: what every scenario sends) and the default queue's.
    worker: Service | None = None
    bulk_worker: Service | None = None
    worker_starts: int = 0

    @property
    def db_url(self) -> str:
        return self.postgres.url(DATABASE)

    def query(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        with psycopg.connect(self.db_url, autocommit=True, connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()

    def start_worker(self) -> None:
        """Both workers, as the Procfile runs them (`worker-urgent` and `worker`)."""
        self.worker_starts += 1
        run = f"{uuid.uuid4().hex[:8]}-{self.worker_starts}"
        self.worker = start_worker(
            self.env,
            concurrency=WORKER_CONCURRENCY,
            pool=WORKER_POOL,
            urgencies=("urgent",),
            log_path=self.work_dir / "worker-urgent.log",
            name=f"faults-urgent-{run}@%h",
        )
        self.bulk_worker = start_worker(
            self.env,
            concurrency=WORKER_CONCURRENCY,
            pool=WORKER_POOL,
            urgencies=("default",),
            log_path=self.work_dir / "worker.log",
            name=f"faults-{run}@%h",
        )

    def stop_worker(self) -> None:
        for worker in (self.worker, self.bulk_worker):
            if worker is not None:
                worker.stop()
        self.worker = self.bulk_worker = None

    def kill_worker(self) -> None:
        for worker in (self.worker, self.bulk_worker):
            if worker is not None:
                worker.kill()
        self.worker = self.bulk_worker = None

    def deliveries_queued(self) -> int:
        """Message deliveries waiting in the queue. Beat's periodic tasks are left out: beat keeps publishing them
        (every second here), also right after Redis comes back empty."""
        client = redis.Redis.from_url(self.redis.url(0), socket_timeout=2)
        return sum(
            1
            for queue in worker_queues(self.env).split(",")
            for raw in client.lrange(queue, 0, -1)
            if json.loads(raw).get("headers", {}).get("task") == DELIVER_TASK
        )


@contextmanager
def fault_stack(work_dir: Path | None = None) -> Iterator[FaultStack]:
    """Start private PostgreSQL and Redis, migrate, start the fake Twilio, gunicorn, a worker and beat; yield; stop
    all of it and remove the temp dir, whatever happened."""
    root = work_dir or Path(tempfile.mkdtemp(prefix="cc-faults-"))
    with ExitStack() as cleanup:
        if work_dir is None:
            cleanup.callback(shutil.rmtree, root, ignore_errors=True)
        else:
            shutil.rmtree(root / "pg", ignore_errors=True)
        postgres = PrivatePostgres(root / "pg").init()
        postgres.start()
        cleanup.callback(postgres.stop, "immediate")
        postgres.create_database(DATABASE)
        private_redis = PrivateRedis(root / "redis").start()
        cleanup.callback(private_redis.stop)
        fake = FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, callback_delay=0.05).start()
        cleanup.callback(fake.stop)
        web_port = free_port()
        web_url = f"http://127.0.0.1:{web_port}"
        env = production_env(
            web_url=web_url,
            twilio_url=fake.url,
            queue=QUEUE,
            db_url=postgres.url(DATABASE),
            redis_url=private_redis.url(0),
            extra=FAULT_SETTINGS,
        )
        migrated = manage("migrate", "--noinput", env=env, check=False)
        if migrated.returncode != 0:
            raise RuntimeError(f"migrate failed: {migrated.stderr[-2000:]}")
        created = manage("create_api_key", "faults", "--role", "integration", env=env)
        api_key = created.stdout.strip().splitlines()[-1].strip()
        web = start_gunicorn(env, web_port, workers=WEB_WORKERS)
        cleanup.callback(web.stop)
        beat = start_beat(env, state_dir=root, log_path=root / "beat.log")
        cleanup.callback(beat.stop)
        stack = FaultStack(
            work_dir=root,
            postgres=postgres,
            redis=private_redis,
            fake=fake,
            env=env,
            web_url=web_url,
            api_key=api_key,
            web=web,
            beat=beat,
        )
        cleanup.callback(stack.stop_worker)
        stack.start_worker()
        yield stack


# --- clients ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRequest:
    kind: str  # "otp_create" | "webhook"
    key: str  # the phone of an OTP, the unique text of a webhook message
    url: str
    body: bytes
    headers: dict


@dataclass(frozen=True)
class ClientCall:
    kind: str
    key: str
    status: int  # 0: no answer (refused, reset, timed out)
    latency_ms: float
    started: float  # monotonic


@dataclass
class Clients:
    """`concurrency` threads sending the requests `plan(index)` makes, each pausing `pause` seconds between two,
    until stopped (or `total` requests are sent)."""

    plan: Callable[[int], PlannedRequest]
    concurrency: int = 4
    pause: float = 0.05
    total: int | None = None
    calls: list[ClientCall] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._next = 0
        self._threads: list[threading.Thread] = []

    def _take_index(self) -> int | None:
        with self._lock:
            if self.total is not None and self._next >= self.total:
                return None
            index = self._next
            self._next += 1
            return index

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            index = self._take_index()
            if index is None:
                return
            self.calls.append(send(session, self.plan(index)))
            self._stop.wait(self.pause)

    def start(self) -> "Clients":
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self.concurrency)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[ClientCall]:
        self._stop.set()
        for thread in self._threads:
            thread.join(CLIENT_TIMEOUT_SECONDS + 5)
        return self.calls

    def wait(self, timeout: float) -> list[ClientCall]:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
        return self.stop()


def send(session: requests.Session, planned: PlannedRequest) -> ClientCall:
    started = time.monotonic()
    try:
        status = session.post(
            planned.url, data=planned.body, headers=planned.headers, timeout=(3, CLIENT_TIMEOUT_SECONDS)
        ).status_code
    except requests.RequestException:
        status = 0
    return ClientCall(planned.kind, planned.key, status, (time.monotonic() - started) * 1000, started)


def scenario_phone(scenario_number: int, index: int) -> str:
    """A Mexican number in its canonical form (how it is stored), unique per scenario and index (OTP limits count
    per phone)."""
    return f"+5255{scenario_number:02d}{index:06d}"


def phone_prefix(scenario_number: int) -> str:
    return f"+5255{scenario_number:02d}"


def otp_request(stack: FaultStack, phone: str) -> PlannedRequest:
    return PlannedRequest(
        "otp_create",
        phone,
        f"{stack.web_url}/api/otp",
        json.dumps({"phone": phone, "purpose": "login"}).encode(),
        {"Authorization": f"Api-Key {stack.api_key}", "Content-Type": "application/json"},
    )


def webhook_request(stack: FaultStack, text: str, index: int) -> PlannedRequest:
    """A BuilderBot incoming WhatsApp message, as BuilderBot posts it (no message id: the body is its identity)."""
    body = {
        "eventName": "message.incoming",
        "data": {
            "body": text,
            "name": "Cliente",
            "from": f"52155990{index % 100000:05d}",
            "attachment": [],
            "projectId": "bench-project",
        },
    }
    return PlannedRequest(
        "webhook",
        text,
        f"{stack.web_url}/webhooks/builderbot/whatsapp",
        json.dumps(body).encode(),
        {"Content-Type": "application/json", "X-Webhook-Token": TOKENS["BUILDERBOT_WEBHOOK_TOKEN"]},
    )


def latency_summary(calls: list[ClientCall]) -> dict:
    latencies = [call.latency_ms for call in calls]
    return {
        "requests": len(calls),
        "statuses": {str(code): count for code, count in sorted(Counter(call.status for call in calls).items())},
        "max_ms": round(max(latencies), 1) if latencies else 0.0,
        "p99_ms": round(percentile(latencies, 99), 1),
        "p50_ms": round(percentile(latencies, 50), 1),
    }


def client_summary(calls: list[ClientCall], fault_window: tuple[float, float] | None) -> dict:
    """Per kind of request: overall, and for the requests started while the fault lasted."""
    summary = {}
    for kind in sorted({call.kind for call in calls}):
        mine = [call for call in calls if call.kind == kind]
        summary[kind] = {"overall": latency_summary(mine)}
        if fault_window:
            during = [call for call in mine if fault_window[0] <= call.started <= fault_window[1]]
            summary[kind]["during_fault"] = latency_summary(during)
    return summary


def resend_refused(stack: FaultStack, calls: list[ClientCall], plans: dict[str, PlannedRequest], timeout: float):
    """What a provider does with a webhook it got no 2xx for: send it again (here every half second) until accepted.
    Returns (keys refused at first, keys still refused at the end, resend attempts)."""
    accepted = {call.key for call in calls if call.kind == "webhook" and 200 <= call.status < 300}
    refused = sorted({call.key for call in calls if call.kind == "webhook"} - accepted)
    pending = list(refused)
    attempts = 0
    session = requests.Session()
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        still = []
        for key in pending:
            attempts += 1
            if not 200 <= send(session, plans[key]).status < 300:
                still.append(key)
        pending = still
        if pending:
            time.sleep(0.5)
    return refused, pending, attempts


# --- counts -------------------------------------------------------------------------------------------------------


def sms_rows(stack: FaultStack, scenario_number: int) -> list[tuple]:
    """(id, to_phone, status, provider_message_id) of the scenario's outbound SMS."""
    return stack.query(
        "SELECT id, to_phone, status, provider_message_id FROM interactions_message "
        "WHERE direction = 'outbound' AND channel = 'sms' AND to_phone LIKE %s",
        [phone_prefix(scenario_number) + "%"],
    )


def wait_sms_settled(stack: FaultStack, scenario_number: int, expected: int, timeout: float) -> float:
    """Wait until the scenario has at least `expected` SMS and all of them are settled; returns the seconds waited."""
    started = time.monotonic()

    def settled() -> bool:
        rows = sms_rows(stack, scenario_number)
        return len(rows) >= expected and all(row[2] in SETTLED_STATUSES for row in rows)

    wait_until(settled, timeout=timeout, interval=0.5)
    return round(time.monotonic() - started, 1)


def sms_counts(stack: FaultStack, scenario_number: int, accepted_phones: set[str]) -> dict:
    """The scenario's SMS in the database against the fake's log.

    - lost: a phone the API accepted (201) without a message row, or a message the fake never created, or one whose
      SID in the database is not the one the fake created;
    - duplicates: creates at the fake beyond the first, per message."""
    prefix = phone_prefix(scenario_number)
    rows = sms_rows(stack, scenario_number)
    with stack.fake._lock:
        created = [dict(m) for m in stack.fake.messages.values() if m["to"].startswith(prefix)]
        create_requests = [r for r in stack.fake.create_requests if r.form.get("To", "").startswith(prefix)]
        lookups = [
            r
            for r in stack.fake.requests
            if r.method == "GET" and r.path.endswith("/Messages.json") and r.query.get("To", "").startswith(prefix)
        ]
        misbehaved = [
            b for r, b in stack.fake.misbehaved if r.form.get("To", "").startswith(prefix) and r.method == "POST"
        ]
    sids_by_phone: dict[str, list[str]] = {}
    for message in created:
        sids_by_phone.setdefault(message["to"], []).append(message["sid"])
    rows_by_phone: dict[str, list[tuple]] = {}
    for row in rows:
        rows_by_phone.setdefault(row[1], []).append(row)
    lost = sum(1 for phone in accepted_phones if phone not in rows_by_phone)
    duplicates = 0
    for row in rows:
        sids = sids_by_phone.get(row[1], [])
        if not sids or row[3] not in sids:
            lost += 1
        duplicates += max(len(sids) - 1, 0)
    creates_per_message = Counter(len(sids_by_phone.get(row[1], [])) for row in rows)
    refusals = Counter(
        f"{b.status}" if b.kind == "error" else ("slow" if b.kind == "accept_then_hang" else b.kind) for b in misbehaved
    )
    return {
        "accepted_by_api": len(accepted_phones),
        "messages_in_db": len(rows),
        "by_status": dict(sorted(Counter(row[2] for row in rows).items())),
        "creates_per_message": {str(k): v for k, v in sorted(creates_per_message.items())},
        "messages_more_than_one_row_per_phone": sum(1 for v in rows_by_phone.values() if len(v) > 1),
        "fake_create_requests": len(create_requests),
        "fake_messages_created": len(created),
        "fake_misbehaviours": dict(sorted(refusals.items())),
        "fake_lookups": len(lookups),
        "lost": lost,
        "duplicates": duplicates,
    }


def webhook_counts(stack: FaultStack, texts: list[str]) -> dict:
    """Per webhook message text: stored events (the ledger) and inbound messages (its effect), each exactly once."""
    events = dict(
        stack.query(
            "SELECT payload->'data'->>'body', count(*) FROM webhooks_interactionevent "
            "WHERE provider = 'builderbot' AND payload->'data'->>'body' = ANY(%s) GROUP BY 1",
            [texts],
        )
    )
    statuses = dict(
        stack.query(
            "SELECT status, count(*) FROM webhooks_interactionevent "
            "WHERE provider = 'builderbot' AND payload->'data'->>'body' = ANY(%s) GROUP BY 1",
            [texts],
        )
    )
    inbound = dict(
        stack.query(
            "SELECT body, count(*) FROM interactions_message WHERE direction = 'inbound' AND body = ANY(%s) GROUP BY 1",
            [texts],
        )
    )
    return {
        "webhooks_sent": len(texts),
        "events_stored": sum(events.values()),
        "event_statuses": dict(sorted(statuses.items())),
        "inbound_messages": sum(inbound.values()),
        "lost": sum(1 for text in texts if events.get(text, 0) == 0 or inbound.get(text, 0) == 0),
        "duplicates": sum(max(events.get(t, 0) - 1, 0) + max(inbound.get(t, 0) - 1, 0) for t in texts),
    }


def accepted_otp_phones(calls: list[ClientCall]) -> set[str]:
    return {call.key for call in calls if call.kind == "otp_create" and call.status == 201}


def create_otps(stack: FaultStack, scenario_number: int, count: int, concurrency: int = 4) -> list[ClientCall]:
    clients = Clients(
        lambda i: otp_request(stack, scenario_phone(scenario_number, i)), concurrency=concurrency, pause=0, total=count
    ).start()
    return clients.wait(timeout=60)


def mixed_load_result(
    fault: str,
    calls: list[ClientCall],
    window: tuple[float, float],
    refused: list,
    still_refused: list,
    resends: int,
    waited: float,
    sms: dict,
    webhooks: dict,
) -> dict:
    """The result of a scenario with OTP and webhook clients: what they saw, what was resent, and the counts."""
    return {
        "fault": fault,
        "client": client_summary(calls, window),
        "webhooks_refused_then_resent": len(refused),
        "webhooks_still_refused": len(still_refused),
        "webhook_resends": resends,
        "seconds_to_settle_after_fault": waited,
        "sms": sms,
        "webhooks": webhooks,
        "lost": sms["lost"] + webhooks["lost"] + len(still_refused),
        "duplicates": sms["duplicates"] + webhooks["duplicates"],
    }


# --- scenarios ----------------------------------------------------------------------------------------------------


def scenario_redis_stopped(stack: FaultStack) -> dict:
    """Redis stopped for a few seconds while clients create OTPs and BuilderBot posts messages."""
    number, outage = 1, 6.0
    plans: dict[str, PlannedRequest] = {}
    run = uuid.uuid4().hex[:6]

    def plan(index: int) -> PlannedRequest:
        if index % 2 == 0:
            planned = otp_request(stack, scenario_phone(number, index))
        else:
            planned = webhook_request(stack, f"fault-{run}-redis-{index}", index)
        plans[planned.key] = planned
        return planned

    clients = Clients(plan, concurrency=4, pause=0.05).start()
    time.sleep(2)
    fault_started = time.monotonic()
    stack.redis.stop()
    time.sleep(outage)
    stack.redis.start()
    fault_ended = time.monotonic()
    time.sleep(2)
    calls = clients.stop()
    refused, still_refused, resends = resend_refused(stack, calls, plans, timeout=20)
    accepted = accepted_otp_phones(calls)
    waited = wait_sms_settled(stack, number, len(accepted), timeout=60)
    sms = sms_counts(stack, number, accepted)
    webhooks = webhook_counts(stack, [k for k, p in plans.items() if p.kind == "webhook"])
    fault = f"redis-server stopped for {outage:.0f} s (its data gone: no persistence), then started again"
    return mixed_load_result(
        fault, calls, (fault_started, fault_ended), refused, still_refused, resends, waited, sms, webhooks
    )


def scenario_redis_restarted_empty(stack: FaultStack) -> dict:
    """The worker is stopped, messages are queued (their tasks wait in Redis), Redis restarts without its data, the
    worker comes back: only the sweeper can find them."""
    number, count = 2, 30
    stack.stop_worker()
    try:
        calls = create_otps(stack, number, count)
        queued_in_redis = stack.deliveries_queued()
        stack.redis.restart()
        queued_after_restart = stack.deliveries_queued()
    finally:
        stack.start_worker()
    restarted = time.monotonic()
    accepted = accepted_otp_phones(calls)
    waited = wait_sms_settled(stack, number, len(accepted), timeout=60)
    sms = sms_counts(stack, number, accepted)
    return {
        "fault": "worker stopped; OTPs created (SMS queued, their tasks in Redis); Redis restarted empty; worker back",
        "client": client_summary(calls, None),
        "deliveries_in_redis_before_restart": queued_in_redis,
        "deliveries_in_redis_after_restart": queued_after_restart,
        "seconds_to_settle_after_worker_back": round(time.monotonic() - restarted, 1),
        "seconds_waited": waited,
        "sms": sms,
        "lost": sms["lost"],
        "duplicates": sms["duplicates"],
    }


def scenario_worker_killed(stack: FaultStack) -> dict:
    """SIGKILL of the whole worker (main and pool processes) while sends are in flight at a slow Twilio."""
    number, count, send_seconds = 3, 24, 1.5
    stack.fake.misbehave_for(120, slow_accept(send_seconds))
    try:
        calls = create_otps(stack, number, count)
        prefix = phone_prefix(number)

        def some_sent() -> bool:
            with stack.fake._lock:
                return sum(1 for m in stack.fake.messages.values() if m["to"].startswith(prefix)) >= 4

        wait_until(some_sent, timeout=20, interval=0.05)
        # Half-way through the slow answers of the latest creates (however long the OTP requests above took), so the
        # kill lands while sends are in flight.
        with stack.fake._lock:
            latest = max(stack.fake.create_arrivals.values())
        time.sleep(max(latest + send_seconds / 2 - time.time(), 0))
        stack.kill_worker()
        killed_at = time.monotonic()
        in_flight = stack.query(
            "SELECT count(*) FROM interactions_message WHERE to_phone LIKE %s AND status = 'sending' "
            "AND provider_message_id IS NULL",
            [prefix + "%"],
        )[0][0]
        queued_at_kill = stack.query(
            "SELECT count(*) FROM interactions_message WHERE to_phone LIKE %s AND status = 'queued'", [prefix + "%"]
        )[0][0]
        with stack.fake._lock:
            created_at_kill = sum(1 for m in stack.fake.messages.values() if m["to"].startswith(prefix))
    finally:
        stack.fake.misbehave_stop()
        if stack.worker is None:
            stack.start_worker()
    accepted = accepted_otp_phones(calls)
    waited = wait_sms_settled(stack, number, len(accepted), timeout=60)
    sms = sms_counts(stack, number, accepted)
    return {
        "fault": f"worker (main and pool processes) SIGKILLed while creates took {send_seconds} s at the fake; "
        "worker started again",
        "client": client_summary(calls, None),
        "in_flight_at_kill": in_flight,
        "queued_at_kill": queued_at_kill,
        "created_at_fake_at_kill": created_at_kill,
        "seconds_to_settle_after_kill": round(time.monotonic() - killed_at, 1),
        "seconds_waited": waited,
        "sms": sms,
        "lost": sms["lost"],
        "duplicates": sms["duplicates"],
    }


def scenario_postgres_restarted(stack: FaultStack) -> dict:
    """PostgreSQL stopped (fast shutdown: open transactions rolled back, connections closed) and started again while
    webhooks come in, OTPs are created and the worker sends."""
    number, outage = 4, 4.0
    plans: dict[str, PlannedRequest] = {}
    run = uuid.uuid4().hex[:6]
    stack.fake.misbehave_for(120, slow_accept(0.3))

    def plan(index: int) -> PlannedRequest:
        if index % 3 == 0:
            planned = otp_request(stack, scenario_phone(number, index))
        else:
            planned = webhook_request(stack, f"fault-{run}-pg-{index}", index)
        plans[planned.key] = planned
        return planned

    try:
        clients = Clients(plan, concurrency=6, pause=0.02).start()
        time.sleep(3)
        fault_started = time.monotonic()
        stack.postgres.stop("fast")
        time.sleep(outage)
        stack.postgres.start()
        fault_ended = time.monotonic()
        time.sleep(3)
        calls = clients.stop()
    finally:
        stack.fake.misbehave_stop()
        if not stack.postgres.running:
            stack.postgres.start()
    refused, still_refused, resends = resend_refused(stack, calls, plans, timeout=30)
    accepted = accepted_otp_phones(calls)
    waited = wait_sms_settled(stack, number, len(accepted), timeout=90)
    sms = sms_counts(stack, number, accepted)
    webhooks = webhook_counts(stack, [k for k, p in plans.items() if p.kind == "webhook"])
    fault = (
        f"PostgreSQL stopped (fast) for {outage:.0f} s under webhook and OTP load with sends in flight "
        "(0.3 s per create at the fake), then started again"
    )
    return mixed_load_result(
        fault, calls, (fault_started, fault_ended), refused, still_refused, resends, waited, sms, webhooks
    )


def scenario_twilio_throttling(stack: FaultStack) -> dict:
    """The fake Twilio answers every create with 429 (Retry-After: 1) or 500, alternately, for a time window."""
    number, count, window = 5, 30, 6.0
    stack.fake.misbehave_for(window, too_many_requests(retry_after=1), server_error(500))
    started = time.monotonic()
    try:
        calls = create_otps(stack, number, count)
        wait_until(lambda: time.monotonic() - started >= window, timeout=window + 1)
    finally:
        stack.fake.misbehave_stop()
    cleared = time.monotonic()
    accepted = accepted_otp_phones(calls)
    waited = wait_sms_settled(stack, number, len(accepted), timeout=60)
    sms = sms_counts(stack, number, accepted)
    return {
        "fault": f"fake Twilio answering 429 (Retry-After: 1) and 500 to every create for {window:.0f} s",
        "client": client_summary(calls, None),
        "seconds_to_settle_after_window": round(time.monotonic() - cleared, 1),
        "seconds_waited": waited,
        "sms": sms,
        "lost": sms["lost"],
        "duplicates": sms["duplicates"],
    }


SCENARIOS: dict[str, tuple[str, Callable[[FaultStack], dict]]] = {
    "redis_stopped": ("Redis stopped during OTP creation and webhook ingestion", scenario_redis_stopped),
    "redis_restarted_empty": (
        "Redis restarted without its data while tasks were queued",
        scenario_redis_restarted_empty,
    ),
    "worker_killed": ("Worker killed with SIGKILL in the middle of sends", scenario_worker_killed),
    "postgres_restarted": ("PostgreSQL restarted under load", scenario_postgres_restarted),
    "twilio_throttling": ("Fake Twilio answering 429 and 500 for a while", scenario_twilio_throttling),
}


def scenario_run(stack: FaultStack, name: str) -> dict:
    title, function = SCENARIOS[name]
    started = time.monotonic()
    result = function(stack)
    return {"name": name, "title": title, **result, "seconds": round(time.monotonic() - started, 1)}


# --- the report ---------------------------------------------------------------------------------------------------


def _client_table(client: dict) -> list[str]:
    lines = [
        "| requests | when | count | status codes | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, parts in client.items():
        for when, figures in parts.items():
            statuses = ", ".join(f"{code}: {n}" for code, n in figures["statuses"].items()) or "-"
            lines.append(
                f"| {kind} | {when.replace('_', ' ')} | {figures['requests']} | {statuses} | {figures['p50_ms']} "
                f"| {figures['p99_ms']} | {figures['max_ms']} |"
            )
    return lines


def _counts_table(result: dict) -> list[str]:
    skip = {"name", "title", "fault", "client", "sms", "webhooks"}
    lines = ["| count | value |", "|---|---|"]
    for key, value in result.get("sms", {}).items():
        lines.append(f"| SMS: {key.replace('_', ' ')} | {_cell(value)} |")
    for key, value in result.get("webhooks", {}).items():
        lines.append(f"| webhooks: {key.replace('_', ' ')} | {_cell(value)} |")
    for key, value in result.items():
        if key not in skip:
            lines.append(f"| {key.replace('_', ' ')} | {_cell(value)} |")
    return lines


def _cell(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
    return str(value)


def write_report(results: list[dict], started: datetime, output: Path, total_seconds: float) -> None:
    lines = [
        "# Fault tests",
        "",
        f"Run on {started:%Y-%m-%d %H:%M} UTC with `python -m bench.faults` ({total_seconds:.0f} s in all, stack start "
        "and stop included). Each scenario breaks a real service while the product works, lets it recover, and counts "
        "what the database holds against what the fake Twilio created.",
        "",
        "## Machine and settings",
        "",
        f"- {machine_description()}",
        "- Private PostgreSQL 15 cluster and private redis-server 7 (no persistence) on free ports, started by the run;"
        " gunicorn "
        f"{WEB_WORKERS} sync workers and two Celery workers as the Procfile runs them (the urgent queue and the rest, "
        f"{WORKER_POOL} pool, concurrency {WORKER_CONCURRENCY} each) with production settings (`DEBUG=false`), "
        "Celery beat, the fake Twilio over HTTP on loopback (status callbacks signed and posted to gunicorn)",
        "- Short intervals so recovery takes seconds: "
        + ", ".join(f"`{k}={v}`" for k, v in FAULT_SETTINGS.items() if not k.startswith(("THROTTLE", "OTP_CLIENT"))),
        "- lost: an OTP answered 201 without its SMS row, an SMS the fake never created (or whose SID differs from the "
        "fake's), a webhook answered 2xx (or re-sent until 2xx) without its stored event and inbound message; "
        "duplicates: creates at the fake beyond the first per SMS, events or inbound messages beyond the first per "
        "webhook",
        "",
        "## Summary",
        "",
        "| scenario | lost | duplicates | seconds |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['title']} | {r['lost']} | {r['duplicates']} | {r['seconds']} |" for r in results]
    lines.append("")
    for result in results:
        lines += [f"## {result['title']}", "", f"Fault: {result['fault']}.", "", "What the clients saw:", ""]
        lines += _client_table(result["client"])
        lines += ["", "Counts:", ""]
        lines += _counts_table(result)
        lines.append("")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--output", default=str(ROOT / "docs" / "faults.md"))
    parser.add_argument("--work-dir", help="keep the servers' and workers' logs here (default: a temp dir, removed)")
    args = parser.parse_args()
    started = datetime.now(UTC)
    clock = time.monotonic()
    results = []
    with fault_stack(Path(args.work_dir) if args.work_dir else None) as stack:
        for name in args.only:
            result = scenario_run(stack, name)
            print(json.dumps(result), flush=True)
            results.append(result)
    total = time.monotonic() - clock
    write_report(results, started, Path(args.output), total)
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "faults.json").write_text(
        json.dumps({"started": started.isoformat(), "seconds": round(total, 1), "scenarios": results}, indent=2)
    )
    print(
        f"wrote {args.output}; lost {sum(r['lost'] for r in results)}, duplicates "
        f"{sum(r['duplicates'] for r in results)}"
    )


if __name__ == "__main__":
    main()
