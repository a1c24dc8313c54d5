"""Enqueueing Celery work from a transaction: after commit, and never letting a broker outage break the caller."""

import logging
import time
from typing import Any

from django.db import transaction

logger = logging.getLogger("contactcenter.tasks")


def enqueue(task: Any, *args: Any, countdown: float | None = None, **kwargs: Any) -> bool:
    """Publish `task` now. Returns False (and logs) instead of raising when the broker cannot be reached: the caller's
    row is the source of truth, and a periodic sweeper publishes it again."""
    started = time.perf_counter()
    try:
        task.apply_async(args=args, kwargs=kwargs or None, countdown=countdown)
    except Exception as exc:  # kombu/redis raise several types; any of them means "not enqueued"
        logger.warning(
            "enqueue_failed",
            extra={
                "task": task.name,
                "error_class": type(exc).__name__,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return False
    return True


def enqueue_on_commit(task: Any, *args: Any, countdown: float | None = None, **kwargs: Any) -> None:
    """Publish `task` once the current transaction commits (at once when there is none)."""
    transaction.on_commit(lambda: enqueue(task, *args, countdown=countdown, **kwargs))
