"""A batch never waits on a row someone else is writing (a webhook, a delivery task): it skips it, and the next run
takes it."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from freezegun import freeze_time

from interactions.models import Interaction
from retention.services import retention_apply

from .conftest import seed_customer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_rows_locked_by_another_transaction_are_skipped_not_waited_for(now):
    locked_customer = seed_customer("+5215512340001", at=now - timedelta(days=400))
    free_customer = seed_customer("+5215512340002", at=now - timedelta(days=400))
    locked_id = locked_customer.interactions[1].pk  # the WhatsApp conversation
    holding, release = threading.Event(), threading.Event()

    def ingest_webhook_slowly():
        try:
            with transaction.atomic():
                Interaction.objects.select_for_update().get(pk=locked_id)
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    writer = threading.Thread(target=ingest_webhook_slowly)
    writer.start()
    try:
        assert holding.wait(10)
        with freeze_time(now):
            report = retention_apply()
    finally:
        release.set()
        writer.join(10)

    assert report.complete
    assert Interaction.objects.get(pk=locked_id).redacted_at is None  # skipped while locked
    assert Interaction.objects.filter(pk__in=free_customer.interaction_ids, redacted_at=now).count() == 3
    with freeze_time(now + timedelta(minutes=1)):
        retention_apply()
    assert Interaction.objects.get(pk=locked_id).redacted_at is not None  # taken by the next run


def test_a_second_run_while_one_is_in_progress_skips(now):
    from retention import services

    holder_started, release = threading.Event(), threading.Event()

    def hold_the_run_lock():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", [services._RUN_LOCK_KEY])
                holder_started.set()
                release.wait(30)
                cursor.execute("SELECT pg_advisory_unlock(%s)", [services._RUN_LOCK_KEY])
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_run_lock)
    holder.start()
    try:
        assert holder_started.wait(10)
        report = retention_apply(now=now)
    finally:
        release.set()
        holder.join(10)
    assert report.skipped and report.summary() == "Retention not applied: another run is in progress."
    assert not retention_apply(now=now).skipped
