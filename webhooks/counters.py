"""Delivery counters per provider and outcome, kept in the Django cache (Redis in production).

Counting is best effort and never blocks ingestion: when the cache is down the increment is skipped (the structured
log line of each delivery stays the record of truth). Keys: `webhooks:count:<provider>:<name>`, where `name` is one of
COUNTER_NAMES. Read them with `webhook_counters()` (the `webhook_counters` management command prints them)."""

import logging
import time

from django.core.cache import cache

from interactions.providers.registry import provider_names

logger = logging.getLogger("webhooks")

COUNTER_NAMES = (
    "received",
    "duplicate",
    "processed",
    "ignored",
    "deferred",
    "failed",
    "rejected_token",
    "rejected_signature",
    "signature_failed_log_only",
    "rejected_body",
)
RECEIVED_OUTCOMES = ("duplicate", "processed", "ignored", "deferred", "failed")


def _key(provider: str, name: str) -> str:
    return f"webhooks:count:{provider}:{name}"


# After a cache failure, counting pauses this long, so that a Redis outage costs one connect timeout, not one per
# delivery.
PAUSE_AFTER_FAILURE_SECONDS = 30.0
_paused_until = 0.0


def _increment(key: str) -> None:
    """One INCR round trip on Redis (which creates the key at 0); add-then-incr on other cache backends."""
    redis_cache = getattr(cache, "_cache", None)
    if redis_cache is not None and hasattr(redis_cache, "get_client"):
        full_key = cache.make_and_validate_key(key)
        redis_cache.get_client(full_key, write=True).incr(full_key)
        return
    if not cache.add(key, 1, timeout=None):
        cache.incr(key)


def webhook_counter_increment(*, provider: str, name: str) -> None:
    global _paused_until
    if time.monotonic() < _paused_until:
        return
    key = _key(provider, name)
    try:
        _increment(key)
    except Exception as exc:  # the cache is an aid; a delivery never fails for it
        _paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_SECONDS
        logger.warning("webhook_counter_unavailable", extra={"error_class": type(exc).__name__})


def webhook_counters(provider: str | None = None) -> dict[str, dict[str, int]]:
    """{provider: {counter name: value}} for every registered provider (or one)."""
    providers = (provider,) if provider else provider_names()
    keys = [_key(p, n) for p in providers for n in COUNTER_NAMES]
    try:
        values = cache.get_many(keys)
    except Exception:
        values = {}
    counts = {p: {n: int(values.get(_key(p, n), 0)) for n in COUNTER_NAMES} for p in providers}
    for per_provider in counts.values():
        # Not counted on the hot path: every stored delivery ends in one outcome, and a repeat is a duplicate.
        per_provider["received"] = sum(per_provider[n] for n in RECEIVED_OUTCOMES)
    return counts
