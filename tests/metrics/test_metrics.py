"""Metrics against values computed by hand on a fixed data set (PostgreSQL: percentiles are percentile_cont).

The data set (all times UTC, window 2026-11-01 … 2026-11-03, "now" frozen at 2026-11-10 12:00):
- interactions: Nov 1 two calls (60 s, 120 s) and an SMS; Nov 2 a failed call without duration, an open WhatsApp
  and an SMS; Nov 3 a call (300 s); Oct 31 a call (999 s) outside the window.
- outbound SMS: Nov 1 two delivered (10 s, 30 s); Nov 2 one read (60 s), one undelivered and one failed (30003);
  Nov 3 one failed without code and one sent. Plus an inbound SMS and an outbound WhatsApp (delivered in 20 s).
- OTP: Nov 1 approved, approved, expired untried; Nov 2 expired after 2 tries, pending past expiry untried,
  canceled; Nov 3 max_attempts, pending not yet expired.
- webhook deliveries: Nov 1 twilio ok + failed; Nov 2 elevenlabs ok, builderbot failed + ok; Nov 3 twilio ok.
"""

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from tests.api.helpers import role_client
from tests.factories import (
    CallDetailFactory,
    InteractionEventFactory,
    InteractionFactory,
    MessageFactory,
    OtpChallengeFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
WINDOW = {"date_from": "2026-11-01", "date_to": "2026-11-03"}


def at(day: int, hour: int = 12, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, 0, second, tzinfo=UTC) if day > 0 else datetime(2026, 10, 31, 12, tzinfo=UTC)


def _call(day, duration, status="completed"):
    interaction = InteractionFactory(
        channel="call", direction="inbound", provider="elevenlabs", status=status, created_at=at(day)
    )
    if duration is not None:
        CallDetailFactory(interaction=interaction, duration_seconds=duration)
    return interaction


def _sms(interaction, day, status, *, delivered_after=None, error_code="", channel="sms", direction="outbound"):
    queued = at(day, 10)
    MessageFactory(
        interaction=interaction,
        channel=channel,
        direction=direction,
        status=status,
        queued_at=queued,
        delivered_at=queued + timedelta(seconds=delivered_after) if delivered_after is not None else None,
        error_code=error_code,
        created_at=queued,
    )


def _otp(n, day, status, *, attempts=0, expires_at=None):
    OtpChallengeFactory(
        number=f"+52155123450{n:02d}",
        status=status,
        attempts=attempts,
        expires_at=expires_at or at(day, 12) + timedelta(minutes=5),
        created_at=at(day),
    )


def _event(n, day, provider, status):
    InteractionEventFactory(
        provider=provider, idempotency_key=f"k{n}", status=status, event_type="x", received_at=at(day)
    )


@pytest.fixture
def data_set():
    with freeze_time(NOW):
        _call(1, 60)
        _call(1, 120)
        sms1 = InteractionFactory(status="completed", created_at=at(1))
        _call(2, None, status="failed")
        whatsapp = InteractionFactory(channel="whatsapp", direction="inbound", provider="builderbot", created_at=at(2))
        InteractionFactory(status="completed", created_at=at(2))
        _call(3, 300)
        _call(0, 999)

        _sms(sms1, 1, "delivered", delivered_after=10)
        _sms(sms1, 1, "delivered", delivered_after=30)
        _sms(sms1, 2, "read", delivered_after=60)
        _sms(sms1, 2, "undelivered", error_code="30003")
        _sms(sms1, 2, "failed", error_code="30003")
        _sms(sms1, 3, "failed")
        _sms(sms1, 3, "sent")
        _sms(sms1, 3, "received", direction="inbound")
        _sms(whatsapp, 2, "delivered", delivered_after=20, channel="whatsapp")

        _otp(1, 1, "approved")
        _otp(2, 1, "approved", attempts=1)
        _otp(3, 1, "expired")
        _otp(4, 2, "expired", attempts=2)
        _otp(5, 2, "pending")  # expired five minutes after Nov 2 noon, never tried: abandoned
        _otp(6, 2, "canceled")
        _otp(7, 3, "max_attempts", attempts=5)
        _otp(8, 3, "pending", expires_at=NOW + timedelta(days=1))

        _event(1, 1, "twilio", "processed")
        _event(2, 1, "twilio", "failed")
        _event(3, 2, "elevenlabs", "processed")
        _event(4, 2, "builderbot", "failed")
        _event(5, 2, "builderbot", "processed")
        _event(6, 3, "twilio", "processed")
        yield


def _get(path, **params):
    with freeze_time(NOW):
        response = role_client("supervisor").get(path, {**WINDOW, **params})
    assert response.status_code == 200, response.content
    return response.json()


def test_summary_matches_hand_computed_values(data_set):
    body = _get("/api/metrics/summary")
    assert body["interactions"]["total"] == 7
    assert body["interactions"]["by_channel"] == {"call": 4, "sms": 2, "whatsapp": 1}
    assert body["interactions"]["by_status"] == {"completed": 5, "failed": 1, "open": 1}
    assert {"channel": "call", "status": "completed", "count": 3} in body["interactions"]["by_channel_and_status"]
    # (60 + 120 + 300) / 3; p90 = 120 + 0.8 × (300 − 120)
    assert body["calls"] == {"count": 3, "avg_duration_seconds": 160.0, "p90_duration_seconds": 264.0}
    assert body["messages"] == {
        "channel": "sms",
        "outbound": 7,
        "delivered": 3,
        "failed": 3,
        "in_flight": 1,
        "delivery_rate": 0.5,
        "median_seconds_to_delivered": 30.0,
        "failures_by_error_code": [{"error_code": "30003", "count": 2}, {"error_code": "unknown", "count": 1}],
    }
    assert body["otp"] == {
        "issued": 8,
        "approved": 2,
        "abandoned": 2,
        "approval_rate": 0.25,
        "abandonment_rate": 0.25,
        "by_status": {"pending": 2, "approved": 2, "expired": 2, "max_attempts": 1, "canceled": 1, "failed": 0},
    }
    assert body["webhooks"] == {"total": 6, "failed": 2, "failure_rate": 0.3333}


def test_summary_for_one_channel(data_set):
    calls = _get("/api/metrics/summary", channel="call")
    assert calls["interactions"]["by_status"] == {"completed": 3, "failed": 1}
    assert calls["calls"]["count"] == 3
    assert calls["messages"] is None and calls["otp"] is None
    assert calls["webhooks"] == {"total": 1, "failed": 0, "failure_rate": 0.0}

    whatsapp = _get("/api/metrics/summary", channel="whatsapp")
    assert whatsapp["interactions"]["total"] == 1
    assert whatsapp["calls"] is None and whatsapp["otp"] is None
    assert whatsapp["messages"]["channel"] == "whatsapp"
    assert (whatsapp["messages"]["outbound"], whatsapp["messages"]["delivery_rate"]) == (1, 1.0)
    assert whatsapp["messages"]["median_seconds_to_delivered"] == 20.0
    assert whatsapp["webhooks"] == {"total": 2, "failed": 1, "failure_rate": 0.5}


def test_daily_series_matches_hand_computed_values(data_set):
    days = _get("/api/metrics/daily")["days"]
    assert [d["date"] for d in days] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert [d["interactions"] for d in days] == [3, 3, 1]
    assert [d["calls_avg_duration_seconds"] for d in days] == [90.0, None, 300.0]
    assert [(d["sms_sent"], d["sms_delivered"], d["sms_failed"]) for d in days] == [(2, 2, 0), (3, 1, 2), (2, 0, 1)]
    assert [d["sms_delivery_rate"] for d in days] == [1.0, 0.3333, 0.0]
    assert [(d["otp_sent"], d["otp_verified"], d["otp_verified_ratio"]) for d in days] == [
        (3, 2, 0.6667),
        (3, 0, 0.0),
        (2, 0, 0.0),
    ]
    assert [(d["webhook_events"], d["webhook_failed"], d["webhook_failure_rate"]) for d in days] == [
        (2, 1, 0.5),
        (3, 1, 0.3333),
        (1, 0, 0.0),
    ]


def test_an_empty_range_has_zeros_and_null_rates():
    body = _get("/api/metrics/summary", date_from="2020-01-01", date_to="2020-01-01")
    assert body["interactions"]["total"] == 0
    assert body["calls"] == {"count": 0, "avg_duration_seconds": None, "p90_duration_seconds": None}
    assert body["messages"]["delivery_rate"] is None
    assert body["otp"]["approval_rate"] is None
    assert body["webhooks"]["failure_rate"] is None
    days = _get("/api/metrics/daily", date_from="2020-01-01", date_to="2020-01-02")["days"]
    assert [d["interactions"] for d in days] == [0, 0]


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2026-11-05", "date_to": "2026-11-01"},
        {"date_from": "2024-01-01", "date_to": "2026-01-01"},
        {"date_from": "not-a-date"},
        {"channel": "fax"},
    ],
)
def test_bad_ranges_are_400(params):
    response = role_client("auditor").get("/api/metrics/summary", params)
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"


@pytest.mark.parametrize("path", ["/api/metrics/summary", "/api/metrics/daily"])
@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 401), ("supervisor", 200), ("auditor", 200), ("agent", 403), ("integration", 403)],
)
def test_who_may_read_metrics(path, role, status):
    assert role_client(role).get(path).status_code == status
