"""Scoped throttles: `reads` on the list, 429 in the standard shape with Retry-After; a cache outage lets requests
through instead of failing them."""

import pytest
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from .helpers import key_client

pytestmark = [pytest.mark.django_db, pytest.mark.postgres, pytest.mark.redis]


def test_reads_are_throttled_per_client_with_429_and_retry_after(monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "reads": "3/min"})
    client, _ = key_client("integration")
    other, _ = key_client("integration", name="other")
    assert [client.get("/api/interactions").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/api/interactions")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["type"] == "client_error"
    assert body["errors"][0]["code"] == "throttled"
    assert other.get("/api/interactions").status_code == 200  # counted per client


def test_a_cache_outage_lets_reads_through(monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "get", broken)
    client, _ = key_client("integration")
    assert client.get("/api/interactions").status_code == 200


def test_otp_create_and_verify_share_the_strict_otp_scope(monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "otp": "2/min"})
    client, _ = key_client("integration")
    bad_verify = {"id": "00000000-0000-4000-8000-000000000000", "code": "000000"}
    first = client.post("/api/otp/verify", bad_verify, format="json")
    second = client.post("/api/otp", {"phone": "12", "purpose": "login"}, format="json")
    assert first.status_code < 429 and second.status_code < 429
    third = client.post("/api/otp/verify", bad_verify, format="json")
    assert third.status_code == 429
    assert third.json()["errors"][0]["code"] == "throttled"
    assert client.get("/api/interactions").status_code == 200  # reads have their own budget
