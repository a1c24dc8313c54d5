"""Retention at scale: redact N seeded old interactions with `apply_retention` while webhook ingest is measured, and
compare ingest latency during the run with its value without it.

    .venv/bin/python -m bench.retention --count 1000000

Uses its own database (`cc_retention_bench`, dropped and created), gunicorn with production settings, and webhook
ingest at concurrency 8 as the load (Twilio status callbacks and BuilderBot messages, taking turns). Runs the policy
once (everything due is redacted), then a second time (nothing left to change), counts in the database what is left
unredacted, prints one JSON line per measurement, and writes its section of docs/benchmarks.md (from
"## Retention under ingest load" to the end of the file) and artifacts/retention-benchmark.json.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from bench.loadgen import Request, run_load
from bench.stack import (
    PYTHON,
    ROOT,
    TOKENS,
    database_exists,
    free_port,
    manage,
    production_env,
    recreate_database,
    services,
    start_gunicorn,
)

DATABASE = "cc_retention_bench"
# With --keep-seed the seeded database is kept as a template, and cloned instead of seeded again on the next run.
SEED_TEMPLATE = "cc_retention_seed_{count}"
SECTION_HEADING = "## Retention under ingest load"


def _apply_retention(env: dict, during) -> dict:
    """Run `manage.py apply_retention` in its own process, calling `during()` until it ends."""
    started = time.monotonic()
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [PYTHON, "manage.py", "apply_retention"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
        while process.poll() is None:
            during()
        log.seek(0)
        output = log.read().strip()
    if process.returncode != 0:
        raise RuntimeError(f"apply_retention failed:\n{output}")
    summary = output.splitlines()[-1] if output else ""
    numbers = re.search(r"redacted (\d+) rows, deleted (\d+) rows in (\d+) batches", summary)
    redacted, deleted, batches = (int(n) for n in numbers.groups()) if numbers else (0, 0, 0)
    return {
        "seconds": round(time.monotonic() - started, 1),
        "summary": summary,
        "rows_redacted": redacted,
        "rows_deleted": deleted,
        "batches": batches,
    }


def _left_unredacted() -> dict:
    """What the run should have left nothing of: old interactions or messages still carrying a full number or text."""
    from interactions.models import Interaction, Message
    from retention.redaction import REDACTED

    old = {"created_at__lt": datetime.now(UTC) - timedelta(days=365)}
    return {
        "interactions_with_full_phone": Interaction.objects.filter(**old).exclude(customer_phone__contains="*").count(),
        "interactions_not_marked_redacted": Interaction.objects.filter(**old, redacted_at__isnull=True).count(),
        "messages_with_full_phone": Message.objects.filter(**old).exclude(from_phone__contains="*").count(),
        "messages_with_text": Message.objects.filter(**old).exclude(body=REDACTED).count(),
        "retention_audit_records": _audit_count(),
    }


def _audit_count() -> int:
    from audit.actions import AuditAction
    from audit.models import AuditLog

    return AuditLog.objects.filter(action=AuditAction.RETENTION_REDACT).count()


def _latency_row(label: str, measurements: list[dict], name: str) -> str:
    chosen = [m for m in measurements if m["name"].startswith(name)]
    p99s = sorted(m["p99_ms"] for m in chosen)
    if not p99s:
        return f"| {label} | 0 | 0 | 0 | – | – |"
    p50 = statistics.median(m["p50_ms"] for m in chosen)
    p99 = (
        f"{statistics.median(p99s):.1f}"
        if len(p99s) == 1
        else f"median {statistics.median(p99s):.1f}, worst {p99s[-1]:.1f}"
    )
    return (
        f"| {label} | {len(chosen)} | {sum(m['requests'] for m in chosen):,} | {sum(m['errors'] for m in chosen)} "
        f"| {p50:.1f} | {p99} |"
    )


def write_section(results: dict) -> None:
    first, second, left = results["first_run"], results["second_run"], results["left_unredacted"]
    rate = first["rows_redacted"] / first["seconds"] if first["seconds"] else 0
    seeding = "cloned from a kept seed in" if results.get("seed_cloned") else "seeding took"
    lines = [
        f"{SECTION_HEADING} (`python -m bench.retention --count {results['count']}`)",
        "",
        f"Measured on {results['date']} with {results['count']:,} seeded WhatsApp interactions 400 days old (one "
        f"message each; {seeding} {results['seed_seconds']:.0f} s) and webhook ingest at concurrency 8 as the load: "
        f"Twilio status callbacks and BuilderBot messages taking turns, {results['requests']:,} requests per "
        "measurement, against gunicorn with production settings on the same 2 cores as PostgreSQL and the run; "
        f"`RETENTION_BATCH_PAUSE_MS={results['pause_ms']}`.",
        "",
        "| `apply_retention` | seconds | rows redacted | batches (1 audit record each) | rows per second |",
        "|---|---|---|---|---|",
        f"| first run, under ingest load | {first['seconds']:.0f} | {first['rows_redacted']:,} | {first['batches']:,} "
        f"| {rate:,.0f} |",
        f"| second run (nothing left to do) | {second['seconds']:.0f} | {second['rows_redacted']:,} "
        f"| {second['batches']:,} | – |",
        "",
        "Rows redacted are the interactions (phone masked, keyed hash kept, texts replaced) plus their messages, "
        "counted once for the phone rule and once for the body rule. Left unredacted afterwards, counted in the "
        f"database: {left['interactions_with_full_phone']} interactions with a full number, "
        f"{left['interactions_not_marked_redacted']} not marked redacted, {left['messages_with_full_phone']} messages "
        f"with a full number, {left['messages_with_text']} with their text; "
        f"{left['retention_audit_records']:,} batch audit records.",
        "",
    ]
    for name, label in (("twilio", "Twilio status callbacks"), ("builderbot", "BuilderBot messages")):
        lines += [
            f"{label} (c=8):",
            "",
            "| ingest | measurements | requests | errors | p50 ms (median) | p99 ms |",
            "|---|---|---|---|---|---|",
            _latency_row("without retention running", results["baseline"], name),
            _latency_row("while the first run redacted", results["during"], name),
            _latency_row("after the runs", results["after"], name),
            "",
        ]
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    head = text.split(SECTION_HEADING, 1)[0].rstrip() + "\n\n"
    path.write_text(head + "\n".join(lines).rstrip() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1000, help="ingest requests per measurement")
    parser.add_argument(
        "--keep-seed", action="store_true", help="keep the seeded rows as a template; clone it on the next run"
    )
    parser.add_argument("--pause-ms", type=int, default=0, help="RETENTION_BATCH_PAUSE_MS for the runs")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = parser.parse_args()

    import bench.stack as stack

    os.environ["BENCH_DB"] = stack.BENCH_DB = DATABASE
    port = free_port()
    web_url = f"http://127.0.0.1:{port}"
    env = production_env(
        web_url=web_url,
        extra={"DATABASE_URL": stack.database_url(DATABASE), "RETENTION_BATCH_PAUSE_MS": str(args.pause_ms)},
    )
    template = SEED_TEMPLATE.format(count=args.count)
    started = time.monotonic()
    cloned = args.keep_seed and database_exists(template)
    if cloned:
        recreate_database(DATABASE, template=template)
        manage("migrate", "--noinput", env=env)
    else:
        recreate_database(DATABASE)
        manage("migrate", "--noinput", env=env)
        manage("seed_retention_data", "--count", str(args.count), "--days-old", "400", "--force", env=env)
        if args.keep_seed:
            recreate_database(template, template=DATABASE)
    seed_seconds = time.monotonic() - started
    print(json.dumps({"seeded": args.count, "seconds": round(seed_seconds, 1)}), flush=True)

    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "contactcenter.settings"
    import django

    django.setup()
    from bench.run import _builderbot_message, _twilio_callback, seed_outbound_sms

    twilio_headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Webhook-Token": TOKENS["TWILIO_WEBHOOK_TOKEN"],
    }
    builderbot_headers = {"Content-Type": "application/json", "X-Webhook-Token": TOKENS["BUILDERBOT_WEBHOOK_TOKEN"]}
    results = {
        "date": datetime.now(UTC).date().isoformat(),
        "count": args.count,
        "requests": args.requests,
        "pause_ms": args.pause_ms,
        "seed_cloned": bool(cloned),
        "seed_seconds": round(seed_seconds, 1),
        "baseline": [],
        "during": [],
        "after": [],
    }
    turn = {"next": "twilio"}

    def measure(into: list, phase: str, provider: str | None = None) -> None:
        provider = provider or turn["next"]
        turn["next"] = "builderbot" if provider == "twilio" else "twilio"
        run = uuid.uuid4().hex[:8]
        sids = seed_outbound_sms(args.requests, run) if provider == "twilio" else []

        def make(i: int) -> Request:
            if provider == "twilio":
                body = _twilio_callback(sids[i], "delivered")
                return Request("POST", f"{web_url}/webhooks/twilio/sms/status", body, twilio_headers)
            body = _builderbot_message(i, run)
            return Request("POST", f"{web_url}/webhooks/builderbot/whatsapp", body, builderbot_headers)

        summary = run_load(f"{provider}_{phase}", make, total=args.requests, concurrency=8).summary()
        print(json.dumps(summary), flush=True)
        into.append(summary)

    web = start_gunicorn(env, port)
    with services(web):
        for _ in range(2):
            measure(results["baseline"], "without_retention", "twilio")
            measure(results["baseline"], "without_retention", "builderbot")
        results["first_run"] = _apply_retention(env, lambda: measure(results["during"], "during_retention"))
        print(json.dumps({"first_run": results["first_run"]}), flush=True)
        results["second_run"] = _apply_retention(env, lambda: time.sleep(0.2))
        print(json.dumps({"second_run": results["second_run"]}), flush=True)
        measure(results["after"], "after_retention", "twilio")
        measure(results["after"], "after_retention", "builderbot")
    results["left_unredacted"] = _left_unredacted()
    print(json.dumps({"left_unredacted": results["left_unredacted"]}), flush=True)
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "retention-benchmark.json").write_text(json.dumps(results, indent=2))
    if not args.no_report:
        write_section(results)


if __name__ == "__main__":
    main()
