"""The sweeper and the reconciler run side by side (several beat instances, a command during a beat run): rows are
claimed with SELECT ... FOR UPDATE SKIP LOCKED and stamped, so each is handled by one of them, once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from interactions.models import Message, MessageStatus
from interactions.services import message_deliver, message_send, message_sweep, sms_reconcile_run

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PHONE = "+5215512345678"


def _side_by_side(function, runs=3):
    barrier = threading.Barrier(runs)
    results, errors = [], []

    def run():
        try:
            barrier.wait(5)
            results.append(function())
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return results


def _age(seconds: float) -> None:
    moment = timezone.now() - timedelta(seconds=seconds)
    Message.objects.update(updated_at=moment, queued_at=moment, created_at=moment, status_changed_at=moment)


def test_concurrent_sweepers_enqueue_each_lost_message_once(monkeypatch):
    # Their wake-up calls are lost (as with Redis down).
    monkeypatch.setattr("interactions.services.messages.enqueue_on_commit", lambda *args, **kwargs: None)
    for number in range(30):
        message_send(channel="sms", body=f"Mensaje {number}", phone=PHONE)
    _age(120)
    enqueued = []
    lock = threading.Lock()

    def record(task, message_id, **_):
        with lock:
            enqueued.append(message_id)

    monkeypatch.setattr("interactions.services.delivery.enqueue_on_commit", record)
    reports = _side_by_side(lambda: message_sweep(limit=12))
    assert sum(report.requeued for report in reports) == 30
    assert sorted(enqueued) == sorted(str(pk) for pk in Message.objects.values_list("pk", flat=True))


def test_concurrent_reconcilers_fetch_each_message_once(sms_via_fake_twilio):
    for number in range(10):
        message = message_send(channel="sms", body=f"Mensaje {number}", phone=PHONE)
        message_deliver(message_id=message.pk)
    sms_via_fake_twilio.wait_for_callbacks()
    _age(3600)
    fetches_before = len(sms_via_fake_twilio.requests)

    reports = _side_by_side(lambda: sms_reconcile_run(older_than=timedelta(minutes=15), limit=4))

    assert sum(report.checked for report in reports) == 10
    assert sum(report.moved for report in reports) == 10
    assert len(sms_via_fake_twilio.requests) - fetches_before == 10  # one fetch per message
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.DELIVERED}
