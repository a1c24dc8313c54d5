"""Fault tests (issue #8): each scenario of `bench.faults` against a private PostgreSQL cluster and a private
redis-server started for this module, with gunicorn, a Celery worker, beat and the fake Twilio. Every scenario must end
with zero messages lost and zero sent twice, shown by the counts of the database against the fake's log."""

import os
import shutil
from pathlib import Path

import pytest

from bench import faults
from bench.stack import PG_BIN, REDIS_SERVER

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def _binaries_missing() -> list[str]:
    missing = [str(PG_BIN / name) for name in ("initdb", "pg_ctl") if not (PG_BIN / name).exists()]
    if shutil.which(REDIS_SERVER) is None:
        missing.append(REDIS_SERVER)
    return missing


@pytest.fixture(scope="module")
def stack():
    missing = _binaries_missing()
    if missing:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true but the fault tests cannot start private servers: missing {', '.join(missing)}")
        pytest.skip(f"the fault tests start private servers: missing {', '.join(missing)}")
    with faults.fault_stack() as running:
        yield running


def _statuses(result: dict, kind: str, when: str = "overall") -> dict[str, int]:
    return result["client"][kind][when]["statuses"]


def _assert_nothing_lost_or_doubled(result: dict) -> None:
    sms = result["sms"]
    assert sms["accepted_by_api"] > 0
    assert sms["messages_in_db"] >= sms["accepted_by_api"]
    assert sms["lost"] == 0, result
    assert sms["duplicates"] == 0, result
    assert set(sms["creates_per_message"]) == {"1"}, result
    assert sms["by_status"] == {"delivered": sms["messages_in_db"]}, result
    assert result["lost"] == 0 and result["duplicates"] == 0, result


def test_redis_stopped_during_otp_creation_and_webhook_ingestion(stack):
    result = faults.scenario_run(stack, "redis_stopped")

    # Neither the OTP API nor webhook ingestion depends on Redis: every request answered, quickly.
    assert _statuses(result, "otp_create", "during_fault") == {
        "201": result["client"]["otp_create"]["during_fault"]["requests"]
    }
    assert set(_statuses(result, "webhook")) == {"200"}
    for kind in ("otp_create", "webhook"):
        assert result["client"][kind]["during_fault"]["requests"] > 0
    _assert_nothing_lost_or_doubled(result)
    assert result["webhooks"]["lost"] == 0 and result["webhooks"]["duplicates"] == 0, result["webhooks"]


def test_redis_restarted_empty_while_tasks_were_queued(stack):
    result = faults.scenario_run(stack, "redis_restarted_empty")

    assert result["deliveries_in_redis_before_restart"] >= result["sms"]["accepted_by_api"]
    assert result["deliveries_in_redis_after_restart"] == 0
    _assert_nothing_lost_or_doubled(result)


def test_worker_killed_in_the_middle_of_sends(stack):
    result = faults.scenario_run(stack, "worker_killed")

    assert result["in_flight_at_kill"] > 0, result
    # Messages created at Twilio whose answer the dead worker never read were found by a lookup, not sent again.
    assert result["sms"]["fake_lookups"] >= result["in_flight_at_kill"]
    _assert_nothing_lost_or_doubled(result)


def test_postgres_restarted_under_load(stack):
    result = faults.scenario_run(stack, "postgres_restarted")

    # During the outage: 503s (never a 500; a hang would show as status 0 at the clients' 10 s timeout); 2xx before
    # and after. How quick the answers were is reported in docs/faults.md, not asserted.
    for kind in ("otp_create", "webhook"):
        assert set(_statuses(result, kind)) <= {"200", "201", "503"}, result["client"]
        assert "503" in _statuses(result, kind, "during_fault"), result["client"]
    # Every webhook refused was accepted when sent again, and each is stored and applied exactly once.
    assert result["webhooks_refused_then_resent"] > 0
    assert result["webhooks_still_refused"] == 0
    assert result["webhooks"]["lost"] == 0 and result["webhooks"]["duplicates"] == 0, result["webhooks"]
    assert result["webhooks"]["event_statuses"] == {"processed": result["webhooks"]["webhooks_sent"]}
    _assert_nothing_lost_or_doubled(result)


def test_twilio_answering_429_and_500_for_a_while(stack):
    result = faults.scenario_run(stack, "twilio_throttling")

    refusals = result["sms"]["fake_misbehaviours"]
    assert refusals.get("429", 0) > 0 and refusals.get("500", 0) > 0, refusals
    assert result["sms"]["fake_create_requests"] > result["sms"]["fake_messages_created"]
    _assert_nothing_lost_or_doubled(result)


def test_fault_report_is_written(tmp_path: Path):
    result = {
        "name": "example",
        "title": "Example",
        "fault": "nothing broke",
        "client": {"otp_create": {"overall": faults.latency_summary([])}},
        "sms": {"lost": 0, "duplicates": 0},
        "lost": 0,
        "duplicates": 0,
        "seconds": 0.1,
    }
    output = tmp_path / "faults.md"

    faults.write_report([result], faults.datetime.now(faults.UTC), output, 1.0)

    text = output.read_text()
    assert "## Example" in text and "| Example | 0 | 0 | 0.1 |" in text
