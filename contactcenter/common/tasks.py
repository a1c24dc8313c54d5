"""Enqueueing Celery work from a transaction: after commit, and never letting a broker outage break the caller."""

import logging
import time
from typing import Any

from django.conf import settings
from django.db import transaction

logger = logging.getLogger("contactcenter.tasks")


def task_queue(urgency: str) -> str:
    """The queue that carries work of `urgency` (settings.CELERY_URGENCY_QUEUES); an unknown urgency is the default
    queue's, so a misspelt level delays nothing."""
    queues = settings.CELERY_URGENCY_QUEUES
    return queues.get(urgency) or queues["default"]


def enqueue(task: Any, *args: Any, countdown: float | None = None, urgency: str | None = None, **kwargs: Any) -> bool:
    """Publish `task` now, on the queue of `urgency` (None: the task's own route, the default queue). Returns False
    (and logs) instead of raising when the broker cannot be reached: the caller's row is the source of truth, and a
    periodic sweeper publishes it again."""
    started = time.perf_counter()
    queue = task_queue(urgency) if urgency else None
    try:
        task.apply_async(args=args, kwargs=kwargs or None, countdown=countdown, queue=queue)
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


def enqueue_on_commit(
    task: Any, *args: Any, countdown: float | None = None, urgency: str | None = None, **kwargs: Any
) -> None:
    """Publish `task` once the current transaction commits (at once when there is none), on the queue of `urgency`."""
    transaction.on_commit(lambda: enqueue(task, *args, countdown=countdown, urgency=urgency, **kwargs))
