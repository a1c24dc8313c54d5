"""Tasks that set the ceiling of the SMS pipeline benchmark, on the same broker and worker as the real ones."""

from functools import cache

import redis
from celery import shared_task
from django.conf import settings
from django.utils import timezone


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@shared_task(name="bench.count")
def count_task(counter_key: str, index: int) -> None:
    """Does nothing but count itself done (one Redis INCR), so the benchmark knows when all have run."""
    _redis().incr(counter_key)


@shared_task(name="bench.touch_row")
def touch_row_task(message_id: str, counter_key: str) -> None:
    """A single-row task: one UPDATE of one message row, then counts itself done."""
    from interactions.models import Message

    Message.objects.filter(pk=message_id).update(updated_at=timezone.now())
    _redis().incr(counter_key)
