"""Retention at scale: redact N seeded old interactions with `apply_retention` while webhook ingest is measured, and
compare ingest latency during the run with its value without it.

    .venv/bin/python -m bench.retention --count 1000000

Uses its own database (`cc_retention_bench`, dropped and created), gunicorn with production settings, and Twilio
status callbacks at concurrency 8 as the ingest load. Prints one JSON line per measurement and a summary.
"""

import argparse
import json
import os
import subprocess
import time
import uuid

from bench.loadgen import Request, run_load
from bench.stack import (
    PYTHON,
    ROOT,
    TOKENS,
    free_port,
    manage,
    production_env,
    recreate_database,
    services,
    start_gunicorn,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1500, help="ingest requests per measurement")
    args = parser.parse_args()

    os.environ["BENCH_DB"] = "cc_retention_bench"
    import bench.stack as stack

    stack.BENCH_DB = "cc_retention_bench"
    port = free_port()
    web_url = f"http://127.0.0.1:{port}"
    env = production_env(web_url=web_url, extra={"DATABASE_URL": stack.database_url("cc_retention_bench")})
    recreate_database("cc_retention_bench")
    manage("migrate", "--noinput", env=env)
    started = time.time()
    manage("seed_retention_data", "--count", str(args.count), "--days-old", "400", "--force", env=env)
    seed_seconds = time.time() - started
    print(json.dumps({"seeded": args.count, "seconds": round(seed_seconds, 1)}), flush=True)

    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "contactcenter.settings"
    import django

    django.setup()
    from bench.run import _twilio_callback, seed_outbound_sms

    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Webhook-Token": TOKENS["TWILIO_WEBHOOK_TOKEN"]}
    web = start_gunicorn(env, port)
    results = {"count": args.count, "seed_seconds": round(seed_seconds, 1), "during": []}
    with services(web):

        def measure(label: str) -> dict:
            sids = seed_outbound_sms(args.requests, uuid.uuid4().hex[:6])
            result = run_load(
                label,
                lambda i: Request(
                    "POST", f"{web_url}/webhooks/twilio/sms/status", _twilio_callback(sids[i], "delivered"), headers
                ),
                total=args.requests,
                concurrency=8,
            )
            summary = result.summary()
            print(json.dumps(summary), flush=True)
            return summary

        results["baseline"] = measure("ingest_without_retention")
        run_started = time.time()
        retention = subprocess.Popen(
            [PYTHON, "manage.py", "apply_retention"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        while retention.poll() is None:
            results["during"].append(measure("ingest_during_retention"))
        output = retention.stdout.read()
        results["retention_seconds"] = round(time.time() - run_started, 1)
        results["retention_summary"] = output.strip().splitlines()[-1] if output.strip() else ""
        results["after"] = measure("ingest_after_retention")
    during = results["during"]
    results["during_p99_ms_max"] = max((d["p99_ms"] for d in during), default=None)
    results["during_errors"] = sum(d["errors"] for d in during)
    print(json.dumps({k: v for k, v in results.items() if k != "during"}), flush=True)
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "retention-benchmark.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
