"""Run every benchmark against the product as production runs it and write docs/benchmarks.md.

    .venv/bin/python -m bench.run                 # everything (the million-row read benchmark seeds for minutes)
    .venv/bin/python -m bench.run --only ingest   # one or more: ingest, storm, otp, pipeline, otp_latency, reads
                                                  # (ingest_wrk: the ingest rows of wrk alone)
    .venv/bin/python -m bench.run --quick         # small counts, to check the harness

It uses PostgreSQL and Redis at their local addresses: a database of its own (`cc_bench`, dropped and created) and
Redis db 10, gunicorn and the two Celery workers of the Procfile (default and urgent queue) started with production
settings (DEBUG off), and the fake Twilio on loopback. Benchmarks measure and report; they never fail on a time.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import requests

from bench.loadgen import LoadResult, Request, run_load
from bench.stack import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BENCH_DB,
    ROOT,
    TOKENS,
    Service,
    database_exists,
    free_port,
    machine_description,
    manage,
    production_env,
    recreate_database,
    services,
    start_gunicorn,
    start_worker,
)
from bench.wrk_ingest import new_run_id, run_wrk, twilio_sids, wrk_available

RESULTS: dict = {"scenarios": {}, "memory": {}, "notes": []}
ANALYSIS_HEADING = "## Reading the figures"
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "3"))
# The workers as the Procfile runs them: one for the default queue, one for the urgent queue, both in threads.
WORKER_POOL = os.environ.get("BENCH_WORKER_POOL", "threads")
WORKER_CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "16"))
URGENT_CONCURRENCY = int(os.environ.get("BENCH_URGENT_CONCURRENCY", "8"))
# The running workers by role, and every service whose peak RSS is sampled (scenarios start and stop workers).
STACK: dict = {}
SAMPLED: list = []


def _django_setup(env: dict) -> None:
    """Import Django in this process with the benchmark's production settings (to seed and to count rows)."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "contactcenter.settings"
    import django

    django.setup()


def _twilio_callback(sid: str, status: str) -> bytes:
    fields = {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": ACCOUNT_SID,
        "From": "+15005550006",
        "To": "+5215512340000",
        "ApiVersion": "2010-04-01",
    }
    return urlencode(fields).encode()


def _elevenlabs_post_call(conversation: str) -> bytes:
    from simulators.simulate import SimulationOptions, _elevenlabs_transcription

    return json.dumps(
        _elevenlabs_transcription(SimulationOptions(conversation_id=f"conv_{conversation}")).payload
    ).encode()


def _builderbot_message(index: int, run: str) -> bytes:
    phone = f"5215599{index % 5000:06d}"
    return json.dumps(
        {
            "eventName": "message.incoming",
            "data": {
                "body": f"Hola, consulta {run}-{index}",
                "name": "Cliente",
                "from": phone,
                "attachment": [],
                "projectId": "bench-project",
            },
        }
    ).encode()


def seed_outbound_sms(count: int, prefix: str, sids: list[str] | None = None) -> list[str]:
    """Messages already sent (with a provider SID) for status callbacks to update: `count` new SIDs, or `sids`. Each
    to a customer of its own, in an interaction of its own, as a campaign's messages are (a callback moves its
    interaction's last activity: one interaction for all would make every callback wait on the same row)."""
    from interactions.models import Interaction, Message

    sids = sids if sids is not None else ["SM" + uuid.uuid4().hex for _ in range(count)]
    interactions = Interaction.objects.bulk_create(
        [
            Interaction(
                channel="sms",
                direction="outbound",
                provider="twilio",
                customer_phone=f"+52155{index % 100_000_000:08d}",
            )
            for index in range(len(sids))
        ],
        batch_size=2000,
    )
    Message.objects.bulk_create(
        [
            Message(
                interaction=interaction,
                channel="sms",
                direction="outbound",
                status="sending",
                provider="twilio",
                provider_message_id=sid,
                to_phone=interaction.customer_phone,
                body="bench",
            )
            for sid, interaction in zip(sids, interactions, strict=True)
        ],
        batch_size=2000,
    )
    return sids


def analyze_tables() -> None:
    """ANALYZE, as autovacuum would after this many new rows (this machine's PostgreSQL runs with autovacuum off:
    without it the planner keeps the estimates of empty tables)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def record(name: str, result: LoadResult, **extra) -> dict:
    summary = {**result.summary(), **extra}
    RESULTS["scenarios"].setdefault(name, []).append(summary)
    print(json.dumps(summary), flush=True)
    return summary


def bench_ingest(web_url: str, quick: bool) -> None:
    """Webhook ingest (Twilio status callbacks, BuilderBot messages, ElevenLabs post-call transcriptions) at
    concurrency 1, 8, 32 against its ceiling, with the Python load generator; then with wrk (bench_ingest_wrk)."""
    per_level = 200 if quick else 2000
    levels = [1, 8, 32]
    run = uuid.uuid4().hex[:8]
    sids = seed_outbound_sms(per_level * len(levels), run)
    twilio_headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Webhook-Token": TOKENS["TWILIO_WEBHOOK_TOKEN"],
    }
    bb_headers = {"Content-Type": "application/json", "X-Webhook-Token": TOKENS["BUILDERBOT_WEBHOOK_TOKEN"]}
    el_headers = {"Content-Type": "application/json", "X-Webhook-Token": TOKENS["ELEVENLABS_WEBHOOK_TOKEN"]}
    warm = run_load("warmup", lambda i: Request("POST", f"{web_url}/bench/ceiling"), total=200, concurrency=8)
    del warm
    for position, concurrency in enumerate(levels):
        ceiling = run_load(
            "ceiling", lambda i: Request("POST", f"{web_url}/bench/ceiling"), total=per_level, concurrency=concurrency
        )
        record("ceiling", ceiling)
        offset = position * per_level
        twilio = run_load(
            "twilio_status",
            lambda i, offset=offset: Request(
                "POST",
                f"{web_url}/webhooks/twilio/sms/status",
                _twilio_callback(sids[offset + i], "delivered"),
                twilio_headers,
            ),
            total=per_level,
            concurrency=concurrency,
        )
        record("twilio_status", twilio, ratio_to_ceiling=round(twilio.throughput / ceiling.throughput, 2))
        builderbot = run_load(
            "builderbot_message",
            lambda i, concurrency=concurrency: Request(
                "POST",
                f"{web_url}/webhooks/builderbot/whatsapp",
                _builderbot_message(i, f"{run}-{concurrency}"),
                bb_headers,
            ),
            total=per_level,
            concurrency=concurrency,
        )
        record("builderbot_message", builderbot, ratio_to_ceiling=round(builderbot.throughput / ceiling.throughput, 2))
        elevenlabs = run_load(
            "elevenlabs_post_call",
            lambda i, concurrency=concurrency: Request(
                "POST",
                f"{web_url}/webhooks/elevenlabs/call",
                _elevenlabs_post_call(f"{run}-{concurrency}-{i}"),
                el_headers,
            ),
            total=per_level,
            concurrency=concurrency,
        )
        record(
            "elevenlabs_post_call", elevenlabs, ratio_to_ceiling=round(elevenlabs.throughput / ceiling.throughput, 2)
        )
        analyze_tables()
    bench_ingest_wrk(web_url, quick)


def bench_ingest_wrk(web_url: str, quick: bool) -> None:
    """The same deliveries driven by wrk at 8 and 32 connections, each provider between two ceiling runs (the ratio
    is to their mean), every request a new delivery."""
    if not wrk_available():
        RESULTS["notes"].append("wrk is not installed: the wrk ingest rows were not measured (apt-get install wrk).")
        return
    seconds = 3 if quick else 10
    for connections in (8, 32):
        seeded = int(1500 * seconds)  # per wrk thread: more than a thread sends in `seconds` at this stack's rates
        twilio_run = new_run_id()
        seed_outbound_sms(0, twilio_run, sids=twilio_sids(twilio_run, seeded))
        analyze_tables()
        runs = {"twilio_status": twilio_run}
        before = run_wrk(
            web_url=web_url, scenario="ceiling", connections=connections, seconds=seconds, run=new_run_id()
        )
        measured = [
            run_wrk(
                web_url=web_url,
                scenario=name,
                connections=connections,
                seconds=seconds,
                run=runs.get(name) or new_run_id(),
            )
            for name in ("builderbot_message", "twilio_status", "elevenlabs_post_call")
        ]
        after = run_wrk(web_url=web_url, scenario="ceiling", connections=connections, seconds=seconds, run=new_run_id())
        ceiling_rate = (before["throughput_rps"] + after["throughput_rps"]) / 2
        for row in (before, after):
            _record_wrk(row)
        for row in measured:
            _record_wrk(row, ratio_to_ceiling=round(row["throughput_rps"] / ceiling_rate, 2) if ceiling_rate else None)


def _record_wrk(row: dict, **extra) -> None:
    summary = {**row, **extra, "name": f"{row['name']} (wrk)"}
    summary.pop("generator", None)
    RESULTS["scenarios"].setdefault(summary["name"], []).append(summary)
    print(json.dumps(summary), flush=True)


def bench_duplicate_storm(web_url: str, quick: bool) -> None:
    """1,000 deliveries of 50 distinct events at concurrency 32: exactly 50 stored."""
    from webhooks.models import InteractionEvent

    run = uuid.uuid4().hex[:8]
    sids = seed_outbound_sms(50, "storm" + run)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Webhook-Token": TOKENS["TWILIO_WEBHOOK_TOKEN"]}
    result = run_load(
        "duplicate_storm",
        lambda i: Request(
            "POST", f"{web_url}/webhooks/twilio/sms/status", _twilio_callback(sids[i % 50], "delivered"), headers
        ),
        total=1000,
        concurrency=32,
    )
    stored = InteractionEvent.objects.filter(provider="twilio", external_ref__in=sids).count()
    record("duplicate_storm", result, distinct_events=50, events_stored=stored)


def _api_key(env: dict, role: str = "integration") -> str:
    output = manage("create_api_key", f"bench-{uuid.uuid4().hex[:6]}", "--role", role, env=env).stdout
    return output.strip().splitlines()[-1].strip()


def bench_otp(web_url: str, fake_twilio, env: dict, quick: bool) -> None:
    """Create-and-verify pairs per second, end to end: API → worker → fake Twilio (the SMS with the code) → verify."""
    import re
    import threading
    from concurrent.futures import ThreadPoolExecutor

    key = _api_key(env)
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    total = 40 if quick else 300
    concurrency = 8
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    base = int(time.time()) % 10_000

    def code_for(phone: str, deadline: float) -> str | None:
        while time.time() < deadline:
            for message in list(fake_twilio.messages.values()):
                if message.get("to") == phone:
                    found = re.search(r"\b(\d{6,10})\b", message.get("body", ""))
                    if found:
                        return found.group(1)
            time.sleep(0.02)
        return None

    def one_pair(index: int) -> None:
        nonlocal errors
        phone = f"+5255{base:04d}{index:04d}"  # canonical: the fake's log and the rows say it so
        session = requests.Session()
        started = time.perf_counter()
        ok = False
        try:
            created = session.post(
                f"{web_url}/api/otp", json={"phone": phone, "purpose": "login"}, headers=headers, timeout=10
            )
            if created.status_code == 201:
                code = code_for(phone, time.time() + 20)
                if code:
                    verified = session.post(
                        f"{web_url}/api/otp/verify",
                        json={"id": created.json()["id"], "code": code},
                        headers=headers,
                        timeout=10,
                    )
                    ok = verified.status_code == 200 and verified.json().get("verified") is True
        except requests.RequestException:
            ok = False
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            latencies.append(elapsed)
            if not ok:
                errors += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one_pair, range(total)))
    seconds = time.perf_counter() - started
    result = LoadResult("otp_pairs", concurrency, total, errors, seconds, latencies, {})
    record("otp_pairs", result, note="one request = create, SMS at the fake (through the worker), verify")


def _queued_bulk_messages(count: int, *, body: str, purpose: str = "statement") -> list:
    """`count` outbound SMS recorded `queued` (as message_send leaves them), each on an interaction of its own, without
    their wake-up calls: the caller publishes those."""
    from django.utils import timezone

    from interactions.models import Interaction, Message

    now = timezone.now()
    interactions = Interaction.objects.bulk_create(
        [
            Interaction(
                channel="sms",
                direction="outbound",
                provider="twilio",
                customer_phone=f"+52155{i:08d}",
                started_at=now,
                last_activity_at=now,
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    messages = Message.objects.bulk_create(
        [
            Message(
                interaction=interaction,
                channel="sms",
                direction="outbound",
                status="queued",
                provider="twilio",
                to_phone=interaction.customer_phone,
                body=body,
                purpose=purpose,
                queued_at=now,
                status_changed_at=now,
            )
            for interaction in interactions
        ],
        batch_size=2000,
    )
    return [str(message.pk) for message in messages]


def _publish_deliveries(ids: list[str], urgency: str = "default") -> float:
    """Publish the wake-up calls of `ids` as the product does (contactcenter.common.tasks.enqueue); returns seconds."""
    from contactcenter.common.tasks import enqueue
    from interactions.tasks import message_deliver_task

    started = time.time()
    for message_id in ids:
        enqueue(message_deliver_task, message_id, urgency=urgency)
    return time.time() - started


def _noop_ceiling(env: dict, total: int, client, *, queue: str | None = None) -> float:
    """No-op tasks per second, published in a burst (from the first publish to the last one run)."""
    from bench.tasks import count_task

    counter_key = f"bench:count:{uuid.uuid4().hex}"
    started = time.time()
    for index in range(total):
        count_task.apply_async((counter_key, index), queue=queue)
    deadline = time.time() + 120
    while time.time() < deadline and int(client.get(counter_key) or 0) < total:
        time.sleep(0.01)
    return int(client.get(counter_key) or 0) / (time.time() - started)


def _cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far, by kind of process on this machine (from /proc): this process (the load and the fake
    Twilio), the Celery workers, gunicorn, PostgreSQL, Redis, everything else; and `machine_busy` from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / ticks
        if int(entry.name) == me:
            kind = "bench process (load + fake Twilio)"
        elif "celery" in command and "worker" in command:
            kind = "celery workers"
        elif "gunicorn" in command:
            kind = "gunicorn"
        elif command.startswith("postgres") or "postgres:" in command:
            kind = "postgresql"
        elif "redis-server" in command:
            kind = "redis"
        else:
            kind = "other"
        used[kind] = used.get(kind, 0.0) + seconds
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    used["machine_busy"] = (sum(map(int, cpu)) - int(cpu[3]) - int(cpu[4])) / ticks
    return used


def bench_pipeline(env: dict, fake_twilio, quick: bool) -> None:
    """Messages per second from queued to accepted by the fake Twilio (goal 2 of issue #16), and on to delivered through
    its status callbacks and our webhook, against the ceilings on the same broker in the same run: a no-op task on the
    production worker (threads pool) and on a prefork worker of 4 processes (the ceiling of the earlier runs), and a
    task that updates one row (its own)."""
    import redis

    from bench.tasks import touch_row_task
    from interactions.models import Message

    total = 200 if quick else 2000
    client = redis.Redis.from_url(env["REDIS_URL"])

    noop_rate = _noop_ceiling(env, total, client)
    print("noop (production worker)", noop_rate, flush=True)
    # The ceiling of earlier runs: the same no-op task on a prefork worker of 4 processes, a queue of its own.
    prefork_env = {**env, "CELERY_QUEUE": env["CELERY_QUEUE"] + "-prefork"}
    prefork = start_worker(
        prefork_env,
        concurrency=4,
        pool="prefork",
        urgencies=("default",),
        name=f"bench-prefork-{os.getpid()}@%h",
        service_name="ceiling worker (prefork, 4 processes)",
    )
    SAMPLED.append(prefork)
    try:
        prefork_rate = _noop_ceiling(env, total, client, queue=prefork_env["CELERY_QUEUE"])
    finally:
        prefork.stop()
    print("noop (prefork 4)", prefork_rate, flush=True)
    ceiling = max(noop_rate, prefork_rate)
    RESULTS["scenarios"]["task_ceiling_noop"] = [
        {"tasks": total, "worker": f"{WORKER_POOL} {WORKER_CONCURRENCY}", "throughput_per_s": round(noop_rate, 1)},
        {"tasks": total, "worker": "prefork 4", "throughput_per_s": round(prefork_rate, 1)},
    ]

    counter_key = f"bench:count:{uuid.uuid4().hex}"
    sids = seed_outbound_sms(total, "row" + uuid.uuid4().hex[:6])
    row_ids = [str(pk) for pk in Message.objects.filter(provider_message_id__in=sids).values_list("pk", flat=True)]
    started = time.time()
    for row_id in row_ids:
        touch_row_task.delay(row_id, counter_key)
    deadline = time.time() + 120
    while time.time() < deadline and int(client.get(counter_key) or 0) < total:
        time.sleep(0.01)
    row_rate = int(client.get(counter_key) or 0) / (time.time() - started)
    RESULTS["scenarios"]["task_ceiling_one_row"] = [
        {"tasks": total, "worker": f"{WORKER_POOL} {WORKER_CONCURRENCY}", "throughput_per_s": round(row_rate, 1)}
    ]
    print("one-row", row_rate, flush=True)

    def run(label: str, *, callbacks: bool, until: str) -> dict:
        """Queued rows first, then their wake-up calls in one burst: what is measured is the pipeline, not how fast
        this process writes rows."""
        ids = _queued_bulk_messages(total, body="Su estado de cuenta está listo.")
        creates_before = len(fake_twilio.create_requests)
        callbacks_before = len(fake_twilio.callbacks)
        fake_twilio.send_callbacks = callbacks
        try:
            cpu_before = _cpu_seconds()
            started = time.time()
            enqueue_seconds = _publish_deliveries(ids)
            deadline = time.time() + 300
            done = 0
            filters = {"provider_message_id__isnull": False} if until == "accepted" else {"status": "delivered"}
            progressed_at = finished = time.time()
            # Until all are done, or nothing moved for 20 s (a status callback the fake could not post is not retried).
            while time.time() < deadline and time.time() - progressed_at < 20:
                count = Message.objects.filter(pk__in=ids, **filters).count()
                if count > done:
                    done, progressed_at = count, time.time()
                    finished = progressed_at
                if done >= total:
                    break
                time.sleep(0.1)
            cpu_after = _cpu_seconds()
        finally:
            fake_twilio.send_callbacks = True
        creates = len(fake_twilio.create_requests) - creates_before
        with fake_twilio._lock:
            callbacks_failed = sum(
                1
                for *_, answer in fake_twilio.callbacks[callbacks_before:]
                if not (isinstance(answer, int) and 200 <= answer < 300)
            )
        # CPU milliseconds per message, by kind of process (processes that ended meanwhile are not counted).
        cpu_ms = {
            kind: round((cpu_after[kind] - cpu_before.get(kind, 0.0)) * 1000 / max(done, 1), 2) for kind in cpu_after
        }
        rate = done / (finished - started)
        summary = {
            "messages": total,
            until: done,
            "seconds": round(finished - started, 2),
            "enqueue_seconds": round(enqueue_seconds, 2),
            "throughput_per_s": round(rate, 1),
            "ratio_to_noop_ceiling": round(rate / ceiling, 2) if ceiling else None,
            "ratio_to_one_row_ceiling": round(rate / row_rate, 2) if row_rate else None,
            "provider_creates": creates,
            "status_callbacks": callbacks,
            "callbacks_unanswered": callbacks_failed,  # no 2xx within the fake's 10 s (may be applied later)
            "cpu_ms_per_message": cpu_ms,
            "machine_cpu_use": round(
                (cpu_after["machine_busy"] - cpu_before["machine_busy"]) / (finished - started), 2
            ),
        }
        RESULTS["scenarios"][label] = [summary]
        print(label, json.dumps(summary), flush=True)
        return summary

    # Goal 2: queued → accepted by the provider (its status callbacks off, so the web does not share the cores).
    run("sms_pipeline_accepted", callbacks=False, until="accepted")
    # As in earlier runs: on to `delivered`, three signed callbacks per message through gunicorn and the ledger.
    run("sms_pipeline", callbacks=True, until="delivered")


def bench_otp_latency(web_url: str, fake_twilio, env: dict, quick: bool) -> None:
    """Goal 3 of issue #16: from the 201 of `POST /api/otp` to the create at the fake Twilio, at 8 concurrent clients,
    (1) with no other work, (2) with a bulk send of 10,000 messages published just before (the urgent queue and its
    own worker), (3) the same bulk with one worker consuming both queues (`make worker`, no worker of its own for
    the urgent queue). The fake records when each create arrived; both times are this process's clock. Status
    callbacks are off during the scenario: 30,000 of them would load the web and these 2 cores on top."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import redis

    from bench.loadgen import percentile
    from interactions.models import Message

    key = _api_key(env)
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    total = 40 if quick else 400
    bulk_total = 1000 if quick else 10_000
    concurrency = 8
    client = redis.Redis.from_url(env["REDIS_URL"])
    default_queue = env["CELERY_QUEUE"]

    def backlog() -> int:
        return int(client.llen(default_queue))

    def otps(label: str, bulk_ids: list[str]) -> dict:
        base = uuid.uuid4().int % 10_000
        answered: dict[str, float] = {}
        create_ms: list[float] = []
        errors = 0
        lock = threading.Lock()
        local = threading.local()

        def one(index: int) -> None:
            nonlocal errors
            phone = f"+5255{base:04d}{index:04d}"
            session = getattr(local, "session", None) or requests.Session()
            local.session = session
            started = time.time()
            try:
                response = session.post(
                    f"{web_url}/api/otp", json={"phone": phone, "purpose": "login"}, headers=headers, timeout=10
                )
                ok = response.status_code == 201
            except requests.RequestException:
                ok = False
            at = time.time()
            with lock:
                if ok:
                    answered[phone] = at
                    create_ms.append((at - started) * 1000)
                else:
                    errors += 1

        backlog_start = backlog()
        bulk_sent_before = Message.objects.filter(pk__in=bulk_ids, provider_message_id__isnull=False).count()
        started = time.time()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(total)))
        seconds = time.time() - started
        backlog_end = backlog()
        bulk_sent_after = Message.objects.filter(pk__in=bulk_ids, provider_message_id__isnull=False).count()
        # Every SMS at the fake (up to 30 s), then 201 → create per phone.
        deadline = time.time() + 30
        arrivals: dict[str, float] = {}
        while time.time() < deadline:
            with fake_twilio._lock:
                arrivals = {
                    m["to"]: fake_twilio.create_arrivals[sid]
                    for sid, m in fake_twilio.messages.items()
                    if m["to"] in answered
                }
            if len(arrivals) >= len(answered):
                break
            time.sleep(0.2)
        latencies = [(arrivals[phone] - at) * 1000 for phone, at in answered.items() if phone in arrivals]
        summary = {
            "otps": total,
            "errors": errors,
            "sms_at_fake": len(latencies),
            # 201 received by the client → create arrived at the fake (negative: the create came first).
            "sms_p50_ms": round(percentile(latencies, 50), 1),
            "sms_p95_ms": round(percentile(latencies, 95), 1),
            "sms_p99_ms": round(percentile(latencies, 99), 1),
            "sms_max_ms": round(max(latencies or [0]), 1),
            "sms_min_ms": round(min(latencies or [0]), 1),
            "create_201_p50_ms": round(percentile(create_ms, 50), 1),
            "create_201_p99_ms": round(percentile(create_ms, 99), 1),
            "seconds": round(seconds, 2),
            "bulk_messages": len(bulk_ids),
            "bulk_backlog_at_start": backlog_start,
            "bulk_backlog_at_end": backlog_end,
            "bulk_sent_during": bulk_sent_after - bulk_sent_before,
        }
        RESULTS["scenarios"].setdefault("otp_sms_latency", []).append({"name": label, **summary})
        print(label, json.dumps(summary), flush=True)
        return summary

    def with_bulk(label: str) -> None:
        ids = _queued_bulk_messages(bulk_total, body="Su estado de cuenta está listo.")
        published = _publish_deliveries(ids)
        print(f"bulk of {bulk_total} published in {published:.1f} s, backlog {backlog()}", flush=True)
        otps(label, ids)
        deadline = time.time() + 300  # let the bulk finish before the next scenario
        while time.time() < deadline and Message.objects.filter(pk__in=ids, status="queued").exists():
            time.sleep(0.5)

    fake_twilio.send_callbacks = False
    try:
        # Warm-up, not counted: each worker thread's first task opens its database and provider connections.
        otps("warm-up (not a figure)", [])
        RESULTS["scenarios"]["otp_sms_latency"].pop()
        otps("no bulk; urgent queue and its worker", [])
        with_bulk(f"{bulk_total} bulk ahead; urgent queue and its worker")
        # The layout without a worker of its own for the urgent queue: one worker takes both queues.
        urgent = STACK["worker-urgent"]
        urgent.stop()
        STACK["worker"].stop()
        STACK["worker"] = _start_bulk_worker(env, urgencies=("default", "urgent"), label="worker (both queues)")
        try:
            with_bulk(f"{bulk_total} bulk ahead; one worker for both queues")
        finally:
            STACK["worker"].stop()
            STACK["worker"] = _start_bulk_worker(env)
            STACK["worker-urgent"] = _start_urgent_worker(env)
    finally:
        fake_twilio.send_callbacks = True


def _valid_seeded_phone() -> str:
    """A customer number the API takes as a filter (the newest rows may be other scenarios' made-up numbers)."""
    from contactcenter.common.pii import InvalidPhoneNumber, phone_normalize
    from interactions.models import Interaction

    candidates = Interaction.objects.exclude(customer_phone="").exclude(customer_phone__contains="*")
    for phone in candidates.order_by("created_at").values_list("customer_phone", flat=True)[:200]:
        try:
            return phone_normalize(phone)
        except InvalidPhoneNumber:
            continue
    return "+5215512345678"


def bench_reads(web_url: str, env: dict, quick: bool) -> None:
    """Reads at scale: seed N interactions, then p50/p99 of the API pages, a detail, the metrics summary and the
    admin changelist."""
    from django.contrib.auth import get_user_model
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from interactions.models import Interaction

    target = 20_000 if quick else int(os.environ.get("BENCH_READS_ROWS", "1000000"))
    existing = Interaction.objects.count()
    if existing < target:
        started = time.time()
        manage("seed_demo", "--interactions", str(target - existing), env=env)
        RESULTS["notes"].append(f"seeded {target - existing} interactions in {time.time() - started:.0f} s")
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", BENCH_DB, "-c", "VACUUM ANALYZE"],
        check=False,
        capture_output=True,
    )
    # What the beat's `metrics.rollup_fold` (every 10 s) would have done by now: the benchmark runs no beat, and the
    # scenarios before this one left their rows' deltas pending (reads add pending deltas, 1.5 ms per 1,000).
    manage("metrics_rollup", "--fold", env=env)
    rows = Interaction.objects.count()
    key = _api_key(env)
    auth = {"Authorization": f"Api-Key {key}"}
    session = requests.Session()

    def measure(name: str, url: str, n: int = 200, headers: dict | None = None, client=None, before=None) -> None:
        client = client or session
        latencies = []
        statuses: dict[int, int] = {}
        for _ in range(n):
            if before:
                before()
            started = time.perf_counter()
            response = client.get(url, headers=headers or auth, timeout=30)
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        errors = sum(v for k, v in statuses.items() if k != 200)
        result = LoadResult(name, 1, n, errors, sum(latencies) / 1000, latencies, statuses)
        record(name, result, rows=rows)

    first = session.get(f"{web_url}/api/interactions", headers=auth, timeout=30).json()
    measure("api_list_first_page", f"{web_url}/api/interactions")
    measure("api_list_filtered", f"{web_url}/api/interactions?channel=sms&status=completed")
    phone = _valid_seeded_phone()
    measure("api_list_phone", f"{web_url}/api/interactions?{urlencode({'phone': phone})}")
    next_url = first.get("next")
    for _ in range(50):  # a deep cursor: 50 pages in
        if not next_url:
            break
        next_url = session.get(next_url, headers=auth, timeout=30).json().get("next")
    if next_url:
        measure("api_list_deep_cursor", next_url)
    detail_id = first["results"][0]["id"]
    measure("api_detail", f"{web_url}/api/interactions/{detail_id}")
    auditor = {"Authorization": f"Api-Key {_api_key(env, 'auditor')}"}
    measure("api_metrics_summary", f"{web_url}/api/metrics/summary", n=50, headers=auditor)

    user_model = get_user_model()
    username = f"bench-{uuid.uuid4().hex[:6]}"
    user_model.objects.create_superuser(username=username, password="bench-pass-123", email="")
    device = TOTPDevice.objects.create(user=user_model.objects.get(username=username), name="bench", confirmed=True)
    # Production cookies are Secure and this benchmark speaks plain HTTP on loopback: carry them by hand.
    login_page = requests.get(f"{web_url}/admin/login/", timeout=30)
    csrf = login_page.cookies.get("csrftoken", "")
    token = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    logged_in = requests.post(
        f"{web_url}/admin/login/",
        data={
            "username": username,
            "password": "bench-pass-123",
            "otp_token": f"{token:06d}",
            "csrfmiddlewaretoken": csrf,
            "next": "/admin/",
        },
        headers={"Cookie": f"csrftoken={csrf}", "Referer": f"{web_url}/admin/login/"},
        allow_redirects=False,
        timeout=30,
    )
    admin = requests.Session()
    admin.headers["Cookie"] = f"csrftoken={csrf}; sessionid={logged_in.cookies.get('sessionid', '')}"
    check = admin.get(f"{web_url}/admin/interactions/interaction/", timeout=30, allow_redirects=False)
    if check.status_code != 200 or "result_list" not in check.text:
        raise RuntimeError(f"the benchmark could not log into the admin ({check.status_code})")
    measure("admin_changelist", f"{web_url}/admin/interactions/interaction/", n=50, headers={}, client=admin)
    measure(
        "admin_changelist_filtered",
        f"{web_url}/admin/interactions/interaction/?channel__exact=call",
        n=50,
        headers={},
        client=admin,
    )
    measure(
        "admin_phone_search",
        f"{web_url}/admin/interactions/interaction/?{urlencode({'q': phone})}",
        n=50,
        headers={},
        client=admin,
    )
    # The dashboard as supervisors see it (its numbers cached for a minute), and computed on every request.
    from django.core.cache import cache

    from backoffice.views import DASHBOARD_CACHE_KEY

    measure("admin_dashboard", f"{web_url}/admin/dashboard/", n=50, headers={}, client=admin)
    measure(
        "admin_dashboard_uncached",
        f"{web_url}/admin/dashboard/",
        n=50,
        headers={},
        client=admin,
        before=lambda: cache.delete(DASHBOARD_CACHE_KEY),
    )


def _start_bulk_worker(env: dict, urgencies: tuple[str, ...] = ("default",), label: str = "worker") -> Service:
    worker = start_worker(
        env, concurrency=WORKER_CONCURRENCY, pool=WORKER_POOL, urgencies=urgencies, service_name=label
    )
    SAMPLED.append(worker)
    return worker


def _start_urgent_worker(env: dict) -> Service:
    worker = start_worker(
        env,
        concurrency=URGENT_CONCURRENCY,
        pool=WORKER_POOL,
        urgencies=("urgent",),
        name=f"bench-urgent-{os.getpid()}@%h",
        service_name="worker-urgent",
    )
    SAMPLED.append(worker)
    return worker


def write_report(path: Path, started: datetime, args) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Run on {started:%Y-%m-%d %H:%M} UTC with `python -m bench.run{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}`.",
        "",
        "## Machine and settings",
        "",
        f"- CPU: {machine_description()}",
        f"- PostgreSQL 15 and Redis 7 on the same machine; gunicorn {WEB_WORKERS} sync workers; Celery workers as the"
        f" Procfile runs them: `worker` (default queue) {WORKER_POOL} pool, concurrency {WORKER_CONCURRENCY}, and"
        f" `worker-urgent` (urgent queue) {WORKER_POOL}, concurrency {URGENT_CONCURRENCY}; the load generators"
        " on the same 2 cores: the project's own (aiohttp, a process of its own, a fixed number of requests) and wrk"
        " (2 threads, 10 s per row; rows marked `(wrk)`)",
        "- Production settings: `DEBUG=false`, JSON logs at WARNING, `CONN_MAX_AGE=60`, fake Twilio on loopback",
        "",
    ]
    scenarios = RESULTS["scenarios"]
    load_rows = [s for name, items in scenarios.items() for s in items if "p50_ms" in s]
    if load_rows:
        lines += [
            "## HTTP scenarios",
            "",
            "| scenario | concurrency | requests | errors | req/s | p50 ms | p95 ms | p99 ms | ratio to ceiling | notes |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in load_rows:
            notes = ", ".join(
                f"{k}={v}"
                for k, v in s.items()
                if k
                not in {
                    "name",
                    "concurrency",
                    "requests",
                    "errors",
                    "throughput_rps",
                    "p50_ms",
                    "p95_ms",
                    "p99_ms",
                    "ratio_to_ceiling",
                    "statuses",
                }
            )
            lines.append(
                f"| {s['name']} | {s['concurrency']} | {s['requests']} | {s['errors']} | {s['throughput_rps']} "
                f"| {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | {s.get('ratio_to_ceiling', '')} | {notes} |"
            )
        lines.append("")
    for name in (
        "task_ceiling_noop",
        "task_ceiling_one_row",
        "sms_pipeline_accepted",
        "sms_pipeline",
        "otp_sms_latency",
    ):
        if name in scenarios:
            lines += [f"## {name}", "", "```json", json.dumps(scenarios[name], indent=2), "```", ""]
    if RESULTS["memory"]:
        lines += ["## Memory (peak RSS of one process, MiB)", ""]
        lines += [f"- {k}: {v}" for k, v in RESULTS["memory"].items()]
        lines.append("")
    if RESULTS["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in RESULTS["notes"]] + [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    # The hand-written reading of the figures (from its heading on) survives a new run.
    if path.exists() and ANALYSIS_HEADING in path.read_text():
        lines += ["", path.read_text()[path.read_text().index(ANALYSIS_HEADING) :].rstrip()]
    path.write_text("\n".join(lines) + "\n")
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "benchmarks.json").write_text(json.dumps(RESULTS, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=["ingest", "storm", "otp", "pipeline", "otp_latency", "reads"])
    parser.add_argument("--quick", action="store_true", help="small counts, to check the harness")
    parser.add_argument("--keep-db", action="store_true", help="reuse cc_bench (keeps seeded rows between runs)")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    started = datetime.now(UTC)
    (ROOT / "artifacts").mkdir(exist_ok=True)

    from simulators.fake_twilio import FakeTwilio

    web_port = free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    fake = FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    fake.start()
    env = production_env(
        web_url=web_url,
        twilio_url=fake.url,
        extra={
            "THROTTLE_RATE_OTP": "100000/min",
            "THROTTLE_RATE_READS": "100000/min",
            "THROTTLE_RATE_WRITES": "100000/min",
            "OTP_CLIENT_RATE_LIMIT_MAX": "1000000",
        },
    )
    if not (args.keep_db and database_exists()):
        recreate_database()
    manage("migrate", "--noinput", env=env)
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    _django_setup(env)
    web = start_gunicorn(env, web_port, workers=WEB_WORKERS)
    SAMPLED.append(web)
    STACK["worker"] = _start_bulk_worker(env)
    STACK["worker-urgent"] = _start_urgent_worker(env)
    with services(web):
        sampler_stop = False

        import threading

        def sample() -> None:
            while not sampler_stop:
                for service in list(SAMPLED):
                    service.sample_rss()
                time.sleep(0.5)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            if "ingest" in args.only:
                bench_ingest(web_url, args.quick)
            elif "ingest_wrk" in args.only:
                bench_ingest_wrk(web_url, args.quick)
            if "storm" in args.only:
                bench_duplicate_storm(web_url, args.quick)
            if "otp" in args.only:
                bench_otp(web_url, fake, env, args.quick)
            if "pipeline" in args.only:
                bench_pipeline(env, fake, args.quick)
            if "otp_latency" in args.only:
                bench_otp_latency(web_url, fake, env, args.quick)
            if "reads" in args.only:
                bench_reads(web_url, env, args.quick)
        finally:
            sampler_stop = True
            thread.join(timeout=2)
            for worker in STACK.values():
                worker.stop()
            # The largest peak of one process of each kind (a gunicorn worker; a Celery worker: threads live in one
            # process, a prefork pool's processes each count alone).
            memory: dict[str, float] = {}
            for service in SAMPLED:
                label = "web worker (gunicorn)" if service is web else f"Celery {service.name}"
                memory[label] = max(memory.get(label, 0.0), service.max_child_rss_mib())
            RESULTS["memory"] = memory
    fake.stop()
    write_report(Path(args.output), started, args)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
