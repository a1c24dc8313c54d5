"""Run every benchmark against the product as production runs it and write docs/benchmarks.md.

    .venv/bin/python -m bench.run                 # everything (the million-row read benchmark seeds for minutes)
    .venv/bin/python -m bench.run --only ingest   # one or more: ingest, storm, otp, pipeline, reads
    .venv/bin/python -m bench.run --quick         # small counts, to check the harness

It uses PostgreSQL and Redis at their local addresses: a database of its own (`cc_bench`, dropped and created) and
Redis db 10, gunicorn and a Celery worker started with production settings (DEBUG off), and the fake Twilio on
loopback. Benchmarks measure and report; they never fail on a time.
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

RESULTS: dict = {"scenarios": {}, "memory": {}, "notes": []}
ANALYSIS_HEADING = "## Reading the figures"
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "3"))
WORKER_CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "4"))


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


def seed_outbound_sms(count: int, prefix: str) -> list[str]:
    """Messages already sent (with a provider SID) for status callbacks to update."""
    from interactions.models import Interaction, Message

    interaction = Interaction.objects.create(
        channel="sms", direction="outbound", provider="twilio", customer_phone="+5215512340000"
    )
    sids = ["SM" + uuid.uuid4().hex for _ in range(count)]
    Message.objects.bulk_create(
        [
            Message(
                interaction=interaction,
                channel="sms",
                direction="outbound",
                status="sending",
                provider="twilio",
                provider_message_id=sid,
                to_phone="+5215512340000",
                body="bench",
            )
            for sid in sids
        ],
        batch_size=2000,
    )
    return sids


def record(name: str, result: LoadResult, **extra) -> dict:
    summary = {**result.summary(), **extra}
    RESULTS["scenarios"].setdefault(name, []).append(summary)
    print(json.dumps(summary), flush=True)
    return summary


def bench_ingest(web_url: str, quick: bool) -> None:
    """Webhook ingest (Twilio status callbacks, BuilderBot messages) at concurrency 1, 8, 32 against its ceiling."""
    per_level = 200 if quick else 2000
    levels = [1, 8, 32]
    run = uuid.uuid4().hex[:8]
    sids = seed_outbound_sms(per_level * len(levels), run)
    twilio_headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Webhook-Token": TOKENS["TWILIO_WEBHOOK_TOKEN"],
    }
    bb_headers = {"Content-Type": "application/json", "X-Webhook-Token": TOKENS["BUILDERBOT_WEBHOOK_TOKEN"]}
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


def bench_pipeline(env: dict, fake_twilio, quick: bool) -> None:
    """Messages per second from queued to delivered through a real worker, the fake Twilio and our status webhook;
    the ceilings are a no-op task and a task that updates one row (its own) on the same broker and worker."""
    import redis
    from django.utils import timezone

    from bench.tasks import count_task, touch_row_task
    from interactions.models import Message

    total = 200 if quick else 2000
    counter_key = f"bench:count:{uuid.uuid4().hex}"
    client = redis.Redis.from_url(env["REDIS_URL"])

    def wait_counter(expected: int, timeout: float) -> float:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if int(client.get(counter_key) or 0) >= expected:
                return time.time()
            time.sleep(0.01)
        return time.time()

    started = time.time()
    for index in range(total):
        count_task.delay(counter_key, index)
    finished = wait_counter(total, 120)
    done = int(client.get(counter_key) or 0)
    noop_rate = done / (finished - started)
    RESULTS["scenarios"]["task_ceiling_noop"] = [
        {"tasks": total, "completed": done, "throughput_per_s": round(noop_rate, 1)}
    ]
    print("noop", noop_rate, flush=True)

    sids = seed_outbound_sms(total, "row" + uuid.uuid4().hex[:6])
    row_ids = [str(pk) for pk in Message.objects.filter(provider_message_id__in=sids).values_list("pk", flat=True)]
    client.delete(counter_key)
    started = time.time()
    for row_id in row_ids:
        touch_row_task.delay(row_id, counter_key)
    finished = wait_counter(total, 120)
    done = int(client.get(counter_key) or 0)
    row_rate = done / (finished - started)
    RESULTS["scenarios"]["task_ceiling_one_row"] = [
        {"tasks": total, "completed": done, "throughput_per_s": round(row_rate, 1)}
    ]
    print("one-row", row_rate, flush=True)

    # Queued messages first (as message_send leaves them), then their wake-up calls in one burst: what is measured
    # is the pipeline (worker → fake Twilio → status callbacks → our webhook), not how fast this process can write.
    from interactions.models import Interaction
    from interactions.tasks import message_deliver_task

    now = timezone.now()
    interactions = Interaction.objects.bulk_create(
        [
            Interaction(
                channel="sms",
                direction="outbound",
                provider="twilio",
                customer_phone=f"+5215577{i:06d}",
                started_at=now,
                last_activity_at=now,
            )
            for i in range(total)
        ],
        batch_size=1000,
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
                body="Su estado de cuenta está listo.",
                queued_at=now,
                status_changed_at=now,
            )
            for interaction in interactions
        ],
        batch_size=1000,
    )
    ids = [message.pk for message in messages]
    creates_before = len(fake_twilio.create_requests)
    started = time.time()
    for message_id in ids:
        message_deliver_task.delay(str(message_id))
    enqueued = time.time()
    deadline = time.time() + 300
    delivered = 0
    while time.time() < deadline:
        delivered = Message.objects.filter(pk__in=ids, status="delivered").count()
        if delivered >= total:
            break
        time.sleep(0.2)
    finished = time.time()
    sent_requests = len(fake_twilio.create_requests) - creates_before
    rate = delivered / (finished - started)
    RESULTS["scenarios"]["sms_pipeline"] = [
        {
            "messages": total,
            "delivered": delivered,
            "seconds": round(finished - started, 2),
            "enqueue_seconds": round(enqueued - started, 2),
            "throughput_per_s": round(rate, 1),
            "ratio_to_noop_ceiling": round(rate / noop_rate, 2) if noop_rate else None,
            "ratio_to_one_row_ceiling": round(rate / row_rate, 2) if row_rate else None,
            "provider_creates": sent_requests,
        }
    ]
    print("pipeline", rate, delivered, flush=True)


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
    phone = Interaction.objects.exclude(customer_phone="").values_list("customer_phone", flat=True).first()
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


def write_report(path: Path, started: datetime, args) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Run on {started:%Y-%m-%d %H:%M} UTC with `python -m bench.run{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}`.",
        "",
        "## Machine and settings",
        "",
        f"- CPU: {machine_description()}",
        f"- PostgreSQL 15 and Redis 7 on the same machine; gunicorn {WEB_WORKERS} sync workers; Celery worker prefork,"
        f" concurrency {WORKER_CONCURRENCY}; the load generator (aiohttp) in a process of its own on the same 2 cores",
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
    for name in ("task_ceiling_noop", "task_ceiling_one_row", "sms_pipeline"):
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
    parser.add_argument("--only", nargs="*", default=["ingest", "storm", "otp", "pipeline", "reads"])
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
    worker = start_worker(env, concurrency=WORKER_CONCURRENCY)
    with services(web, worker):
        sampler_stop = False

        import threading

        def sample() -> None:
            while not sampler_stop:
                web.sample_rss()
                worker.sample_rss()
                time.sleep(0.5)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            if "ingest" in args.only:
                bench_ingest(web_url, args.quick)
            if "storm" in args.only:
                bench_duplicate_storm(web_url, args.quick)
            if "otp" in args.only:
                bench_otp(web_url, fake, env, args.quick)
            if "pipeline" in args.only:
                bench_pipeline(env, fake, args.quick)
            if "reads" in args.only:
                bench_reads(web_url, env, args.quick)
        finally:
            sampler_stop = True
            thread.join(timeout=2)
            RESULTS["memory"] = {
                "web worker (gunicorn)": web.max_child_rss_mib(),
                "Celery worker (pool process)": worker.max_child_rss_mib(),
            }
    fake.stop()
    write_report(Path(args.output), started, args)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
