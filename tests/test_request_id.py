"""The request id of a web request reaches the log lines of the Celery tasks it enqueued."""

import logging

import pytest
from celery import shared_task

from contactcenter.celery import _attach_request_id
from contactcenter.common.context import request_id_var

logger = logging.getLogger("tests.request_id")


@shared_task(name="tests.log_something")
def log_something_task() -> None:
    logger.info("inside the task")


def test_publishing_attaches_the_current_request_id_to_the_task_headers():
    headers: dict = {}
    token = request_id_var.set("req-42")
    try:
        _attach_request_id(headers=headers)
    finally:
        request_id_var.reset(token)
    assert headers["request_id"] == "req-42"


@pytest.mark.django_db
def test_task_log_lines_carry_the_request_id_of_the_request_that_enqueued_them(caplog):
    from contactcenter.common.logging import RequestIdFilter

    caplog.handler.addFilter(RequestIdFilter())
    token = request_id_var.set("req-from-web")
    try:
        with caplog.at_level(logging.INFO, logger="tests.request_id"):
            log_something_task.apply_async()
    finally:
        request_id_var.reset(token)
    records = [r for r in caplog.records if r.getMessage() == "inside the task"]
    assert records and records[0].request_id == "req-from-web"


def test_a_task_run_from_a_header_takes_that_request_id(caplog):
    from contactcenter.common.logging import RequestIdFilter

    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO, logger="tests.request_id"):
        log_something_task.apply(headers={"request_id": "req-from-header"})
    records = [r for r in caplog.records if r.getMessage() == "inside the task"]
    assert records and records[0].request_id == "req-from-header"
