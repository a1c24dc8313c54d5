"""Delivery counters per provider and outcome, kept in the Django cache (Redis in production).

Counting is best effort and never blocks ingestion: when the cache is down the increment is skipped (the structured
log line of each delivery stays the record of truth). A process adds up its increments and writes them at most once
every WEBHOOK_COUNTERS_FLUSH_SECONDS (one pipelined round trip for all of them, instead of one per delivery), and
before it reads them; a process that dies loses at most that long of counts. Keys: `webhooks:count:<provider>:<name>`, where `name` is one of
COUNTER_NAMES. Read them with `webhook_counters()` (the `webhook_counters` management command prints them)."""

import logging
import threading
import time
from collections import Counter

from django.conf import settings
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


_pending: Counter[str] = Counter()
_pending_lock = threading.Lock()
_last_flush = 0.0


def _write(increments: dict[str, int]) -> None:
    """One pipelined INCRBY per key on Redis (which creates the key at 0); add-then-incr on other cache backends."""
    redis_cache = getattr(cache, "_cache", None)
    if redis_cache is not None and hasattr(redis_cache, "get_client"):
        full_keys = {cache.make_and_validate_key(key): amount for key, amount in increments.items()}
        pipeline = redis_cache.get_client(next(iter(full_keys)), write=True).pipeline(transaction=False)
        for full_key, amount in full_keys.items():
            pipeline.incrby(full_key, amount)
        pipeline.execute()
        return
    for key, amount in increments.items():
        if not cache.add(key, amount, timeout=None):
            cache.incr(key, amount)


def webhook_counters_flush() -> None:
    """Write what this process has counted and not written yet."""
    global _paused_until, _last_flush
    with _pending_lock:
        increments = dict(_pending)
        _pending.clear()
        _last_flush = time.monotonic()
    if not increments or time.monotonic() < _paused_until:
        return
    try:
        _write(increments)
    except Exception as exc:  # the cache is an aid; a delivery never fails for it
        _paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_SECONDS
        logger.warning("webhook_counter_unavailable", extra={"error_class": type(exc).__name__})


def webhook_counter_increment(*, provider: str, name: str) -> None:
    if time.monotonic() < _paused_until:
        return
    with _pending_lock:
        _pending[_key(provider, name)] += 1
        due = time.monotonic() - _last_flush >= settings.WEBHOOK_COUNTERS_FLUSH_SECONDS
    if due:
        webhook_counters_flush()


def webhook_counters(provider: str | None = None) -> dict[str, dict[str, int]]:
    """{provider: {counter name: value}} for every registered provider (or one)."""
    providers = (provider,) if provider else provider_names()
    keys = [_key(p, n) for p in providers for n in COUNTER_NAMES]
    webhook_counters_flush()
    try:
        values = cache.get_many(keys)
    except Exception:
        values = {}
    counts = {p: {n: int(values.get(_key(p, n), 0)) for n in COUNTER_NAMES} for p in providers}
    for per_provider in counts.values():
        # Not counted on the hot path: every stored delivery ends in one outcome, and a repeat is a duplicate.
        per_provider["received"] = sum(per_provider[n] for n in RECEIVED_OUTCOMES)
    return counts
