"""The Celery app: configuration from Django settings (CELERY_*), tasks from every app, and the request id carried
from the web request that enqueued a task into the task's own log lines."""

import os
import threading
import time

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")

app = Celery("contactcenter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.before_task_publish.connect
def _attach_request_id(headers=None, **_):
    from contactcenter.common.context import current_request_id

    request_id = current_request_id()
    if headers is not None and request_id:
        headers.setdefault("request_id", request_id)


@signals.task_prerun.connect
def _restore_request_id(task=None, **_):
    from contactcenter.common.context import current_request_id, new_request_id, request_id_var

    # From the publishing request's header; in eager mode the task runs inside that request and keeps its id.
    request_id = None
    if task is not None:
        # A worker exposes custom message headers as request attributes; eager `apply(headers=…)` keeps them apart.
        request_id = getattr(task.request, "request_id", None) or (getattr(task.request, "headers", None) or {}).get(
            "request_id"
        )
    task.request.__dict__["_request_id_token"] = request_id_var.set(
        request_id or current_request_id() or new_request_id()
    )


@signals.task_postrun.connect
def _clear_request_id(task=None, **_):
    from contactcenter.common.context import request_id_var

    token = task.request.__dict__.pop("_request_id_token", None) if task else None
    if token is not None:
        try:
            request_id_var.reset(token)
        except ValueError:
            request_id_var.set(None)


# A connection whose thread finished a task this recently is not health-checked (SELECT 1) again before the next one:
# on a busy worker that round trip was one in four of a message delivery's statements. Errors and CONN_MAX_AGE are still
# checked around every task, and a connection idle for longer is checked before reuse.
HEALTH_CHECK_IDLE_SECONDS = 1.0
_thread_state = threading.local()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _database_connections_checked(signal=None, task=None, **_):
    # What Django does around each request: drop a connection that saw an error or outlived CONN_MAX_AGE, and
    # health-check the others on their next use. Not for an eager task: it runs inside a request's transaction.
    if task is None or getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections, connections

    close_old_connections()
    now = time.monotonic()
    if signal is signals.task_postrun:
        _thread_state.finished_at = now  # the pool's thread (or process) that ran the task
        return
    finished = getattr(_thread_state, "finished_at", None)
    if finished is not None and now - finished < HEALTH_CHECK_IDLE_SECONDS:
        for connection in connections.all(initialized_only=True):
            if connection.connection is not None and not connection.errors_occurred:
                connection.health_check_done = True


@signals.setup_logging.connect
def _use_django_logging(**_):
    # Django's LOGGING (JSON, scrubbed) is configured by django.setup(); Celery must not install its own handlers.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
