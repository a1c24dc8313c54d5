"""The retention policy applied: what is older than each threshold is redacted or deleted, younger data untouched,
re-running changes nothing, and every run and batch leaves audit records with counts."""

import re
import time
from datetime import timedelta
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from audit.models import AuditLog
from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from contactcenter.common.pii import phone_hash
from interactions.models import CallDetail, Interaction, Message
from otp.models import OtpChallenge
from retention.models import RetentionRun
from retention.redaction import REDACTED
from retention.selectors import interactions_for_phone
from retention.services import retention_apply
from retention.tasks import retention_apply_task
from webhooks.models import InteractionEvent

from .conftest import assert_redacted, assert_untouched, audit_records, dump, rows_of, seed_customer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

OLD = "+525512345678"
YOUNG = "+525587651234"


def test_data_older_than_every_threshold_is_redacted_and_younger_data_untouched(now, policy):
    # Raw events and OTP challenges would be deleted at 400 days (90): kept here to show their redaction.
    policy["all"]["raw_events"]["delete_after_days"] = None
    policy["all"]["otp_challenges"]["delete_after_days"] = None
    old = seed_customer(OLD, at=now - timedelta(days=400))
    young = seed_customer(YOUNG, at=now - timedelta(days=5))
    young_before = dump(rows_of(young))
    storage = CallDetail._meta.get_field("recording").storage
    assert storage.exists(old.recordings[0])

    with freeze_time(now):
        report = retention_apply()

    assert report.complete and report.rows_redacted > 0 and report.rows_deleted == 0
    old_text = dump(rows_of(old))
    assert_redacted(old_text, OLD)
    assert old_text.count("+52******5678") >= 5  # the masked form stays where a number was
    # The young customer's rows are exactly as they were; their recording is still in storage.
    assert dump(rows_of(young)) == young_before
    assert_untouched(young_before, YOUNG)
    assert storage.exists(young.recordings[0])

    call, sms, chat = Interaction.objects.filter(pk__in=old.interaction_ids).order_by("channel")
    for interaction in (call, chat, sms):
        assert interaction.customer_phone == "+52******5678"
        assert interaction.customer_phone_hash == phone_hash(OLD)  # kept for matching
        assert interaction.redacted_at == now
    detail = CallDetail.objects.get(interaction=call)
    assert not detail.recording and detail.recording_url == ""
    assert not storage.exists(old.recordings[0])
    assert detail.summary == REDACTED and detail.customer_number == "+52******5678"
    assert [turn["role"] for turn in detail.transcript] == [
        turn["role"] for turn in old.interactions[0].call_detail.transcript
    ]
    assert {message.body for message in Message.objects.filter(interaction__in=[chat, sms])} == {REDACTED}
    assert all(event.redacted_at == now for event in InteractionEvent.objects.filter(pk__in=[e.pk for e in old.events]))
    challenge = OtpChallenge.objects.get(pk=old.otp_challenges[0].pk)
    assert challenge.phone == "+52******5678" and challenge.phone_hash == phone_hash(OLD)

    # The full number still finds the redacted customer's interactions, through the keyed hash.
    assert set(interactions_for_phone(OLD)) == {call, chat, sms}
    assert set(interactions_for_phone("52 1 55 1234 5678")) == {call, chat, sms}


def test_each_kind_waits_for_its_own_threshold(now, policy):
    """At 100 days: recordings (90) and SMS bodies (30) are gone; transcripts (180), WhatsApp bodies (180) and phone
    numbers (365) are still there."""
    policy["all"]["raw_events"]["delete_after_days"] = None
    policy["all"]["otp_challenges"]["delete_after_days"] = None
    customer = seed_customer(OLD, at=now - timedelta(days=100))
    with freeze_time(now):
        retention_apply()
    call, sms, chat = Interaction.objects.filter(pk__in=customer.interaction_ids).order_by("channel")
    detail = CallDetail.objects.get(interaction=call)
    assert not detail.recording and detail.recording_url == ""
    assert detail.summary != REDACTED and "José Pérez" in str([*detail.transcript, detail.summary])
    assert Message.objects.get(interaction=sms).body == REDACTED
    assert {message.body for message in Message.objects.filter(interaction=chat)} != {REDACTED}
    assert all(
        interaction.customer_phone == OLD and interaction.redacted_at is None for interaction in (call, chat, sms)
    )
    # Raw events (30 days) are scrubbed, OTP challenges (30 days) masked.
    for event in InteractionEvent.objects.filter(pk__in=[event.pk for event in customer.events]):
        assert_redacted(dump([event]), OLD)
    assert OtpChallenge.objects.get(pk=customer.otp_challenges[0].pk).phone == "+52******5678"

    # Moved on to 200 days: transcripts and WhatsApp bodies go too, phone numbers still wait.
    with freeze_time(now + timedelta(days=100)):
        retention_apply()
    detail.refresh_from_db()
    assert detail.summary == REDACTED and "José Pérez" not in str(detail.transcript)
    assert {message.body for message in Message.objects.filter(interaction=chat)} == {REDACTED}
    assert Interaction.objects.get(pk=chat.pk).customer_phone == OLD


def test_rerunning_changes_nothing(now):
    customer = seed_customer(OLD, at=now - timedelta(days=400))
    with freeze_time(now):
        first = retention_apply()
    after_first = dump(rows_of(customer))
    with freeze_time(now + timedelta(hours=1)):
        second = retention_apply()
    assert first.rows_redacted > 0
    assert second.rows_redacted == 0 and second.rows_deleted == 0 and second.batches == 0
    assert dump(rows_of(customer)) == after_first


def test_deletion_removes_rows_with_what_hangs_from_them(now):
    doomed = seed_customer(OLD, at=now - timedelta(days=1900))
    kept = seed_customer(YOUNG, at=now - timedelta(days=1000))
    storage = CallDetail._meta.get_field("recording").storage
    with freeze_time(now):
        report = retention_apply()

    assert not Interaction.objects.filter(pk__in=doomed.interaction_ids).exists()
    assert not Message.objects.filter(pk__in=[message.pk for message in doomed.messages]).exists()
    assert not CallDetail.objects.filter(interaction_id__in=doomed.interaction_ids).exists()
    assert not InteractionEvent.objects.filter(pk__in=[event.pk for event in doomed.events]).exists()
    assert not OtpChallenge.objects.filter(pk__in=[c.pk for c in doomed.otp_challenges]).exists()
    assert not storage.exists(doomed.recordings[0])
    # 1000 days: redacted, not deleted (their raw events and OTP challenges are past their own 90 days).
    assert Interaction.objects.filter(pk__in=kept.interaction_ids, redacted_at=now).count() == 3
    assert Message.objects.filter(pk__in=[message.pk for message in kept.messages]).count() == 3
    assert not InteractionEvent.objects.filter(pk__in=[event.pk for event in kept.events]).exists()
    assert not OtpChallenge.objects.filter(pk__in=[c.pk for c in kept.otp_challenges]).exists()
    assert report.rows_deleted == 3 + 3 + 1  # interactions (per channel), kept's events and OTP challenge

    deleted = {(record.target_type, record.target_id): record.data for record in audit_records("retention.delete")}
    assert deleted[("interactions", "call")]["counts"] == {
        "interactions": 1,
        "call_details": 1,
        "events": 1,
        "recording_files": 1,
    }
    assert deleted[("interactions", "whatsapp")]["counts"]["messages"] == 2


def test_audit_records_are_kept_longest_and_purged_through_the_purge_function(now):
    with freeze_time(now - timedelta(days=3700)):
        ancient = audit_log_record(actor=Actor.system("test"), action="test.ancient")
    with freeze_time(now - timedelta(days=3000)):
        old = audit_log_record(actor=Actor.system("test"), action="test.old")
    with freeze_time(now):
        retention_apply()
    assert not AuditLog.objects.filter(pk=ancient.pk).exists()
    assert AuditLog.objects.filter(pk=old.pk).exists()
    (purge,) = audit_records("retention.delete")
    assert purge.target_type == "audit_records" and purge.data["counts"] == {"audit_records": 1}
    assert purge.data["anchor"] == {"seq": ancient.chain_seq, "hash": ancient.chain_hash}


def test_every_batch_and_every_run_leave_audit_records_with_counts(now, settings):
    settings.RETENTION_BATCH_SIZE = 2
    for index in range(5):
        seed_customer(f"+5255123400{index:02d}", at=now - timedelta(days=400))
    with freeze_time(now):
        report = retention_apply()

    batches = [r for r in audit_records("retention.redact") if r.target_type == "interactions" and r.target_id == "sms"]
    assert [record.data["counts"]["interactions"] for record in batches] == [2, 2, 1]
    first = batches[0].data
    assert first["policy"] == {
        "channel": "sms",
        "kind": "phone_numbers",
        "action": "redact",
        "after_days": 365,
        "cutoff": (now - timedelta(days=365)).isoformat(),
    }
    assert first["time_range"]["from"] == first["time_range"]["to"] == (now - timedelta(days=400)).isoformat()
    assert first["run_id"] == report.run_id

    (run_record,) = audit_records("retention.run")
    assert run_record.data["rows_redacted"] == report.rows_redacted
    assert run_record.data["counts"]["sms.phone_numbers.redact"] == 5 + 5  # interactions and their messages
    run = RetentionRun.objects.get(pk=report.run_id)
    assert run.status == "completed" and run.rows_redacted == report.rows_redacted and run.batches == report.batches

    # A run with nothing to do still leaves its record, with zero counts.
    with freeze_time(now + timedelta(minutes=5)):
        retention_apply()
    assert audit_records("retention.run")[-1].data["rows_redacted"] == 0


def test_dry_run_changes_nothing_and_prints_per_channel_and_kind(now):
    customer = seed_customer(OLD, at=now - timedelta(days=400))
    before = dump(rows_of(customer))
    out = StringIO()
    with freeze_time(now):
        call_command("apply_retention", "--dry-run", stdout=out)
    assert dump(rows_of(customer)) == before
    assert not RetentionRun.objects.exists() and not audit_records("retention.run")
    lines = out.getvalue().splitlines()
    assert any(line.split()[:3] == ["call", "recordings", "would"] and "1 rows" in line for line in lines)
    assert any(line.split()[:2] == ["whatsapp", "message_bodies"] and " 2 rows" in line for line in lines)
    assert lines[-1].startswith("Retention dry run: would redact ")

    out = StringIO()
    with freeze_time(now):
        call_command("apply_retention", stdout=out)
    assert out.getvalue().splitlines()[-1].startswith("Retention applied: redacted ")
    assert_redacted(dump(rows_of(customer)), OLD)


def test_the_daily_task_applies_the_policy_and_is_scheduled(now, settings):
    seed_customer(OLD, at=now - timedelta(days=400))
    assert settings.CELERY_BEAT_SCHEDULE["retention-apply-daily"]["task"] == "retention.apply"
    with freeze_time(now):
        result = retention_apply_task.apply().get()
    assert result["complete"] and result["rows_redacted"] > 0
    assert RetentionRun.objects.get(pk=result["run_id"]).trigger == "beat"


def test_a_run_out_of_time_stops_between_batches_and_the_next_finishes(now, settings):
    settings.RETENTION_BATCH_SIZE = 1
    seed_customer(OLD, at=now - timedelta(days=400))
    # Not under freeze_time: the budget is measured on the monotonic clock.
    partial = retention_apply(now=now, max_seconds=1e-9)
    assert not partial.complete and partial.batches == 0
    assert RetentionRun.objects.get(pk=partial.run_id).status == "partial"
    full = retention_apply(now=now)
    assert full.complete and full.rows_redacted > 0


def test_a_pause_after_each_full_batch_leaves_room_for_ingestion(now, settings, monkeypatch):
    settings.RETENTION_BATCH_SIZE = 2
    for index in range(5):
        seed_customer(f"+5255123400{index:02d}", at=now - timedelta(days=400))
    pauses: list[float] = []
    monkeypatch.setattr("retention.services.time", SimpleNamespace(sleep=pauses.append, monotonic=time.monotonic))

    with freeze_time(now):
        retention_apply()
    assert pauses == []  # none by default

    settings.RETENTION_BATCH_PAUSE_MS = 40
    for index in range(5, 10):
        seed_customer(f"+5255123400{index:02d}", at=now - timedelta(days=400))
    with freeze_time(now + timedelta(minutes=1)):
        report = retention_apply()
    # Between batches only: a batch that came back short was the last of its table.
    assert pauses and set(pauses) == {0.04} and len(pauses) < report.batches


def test_every_batch_reads_its_rows_straight_from_an_index_in_walk_order(now, settings):
    """A batch must cost the same at the millionth row as at the first: each table's due rows are read off an index
    in (age, id) order from where the last batch stopped, never gathered and sorted whole. Sequential scans and sorts
    are disabled so the planner shows what it would do on a big table (tiny test tables have no statistics)."""
    settings.RETENTION_BATCH_SIZE = 2
    for index in range(3):
        seed_customer(f"+5255123400{index:02d}", at=now - timedelta(days=4000))
    with freeze_time(now), CaptureQueriesContext(connection) as queries:
        retention_apply()

    walks = {q["sql"] for q in queries if "SKIP LOCKED" in q["sql"]}
    tables = {sql.split(" FROM ", 1)[1].split()[0] for sql in walks}
    assert tables == {
        '"interactions_interaction"',
        '"interactions_message"',
        '"interactions_calldetail"',
        '"webhooks_interactionevent"',
        '"otp_otpchallenge"',
    }  # audit records are deleted by the database's `audit_purge` (tests/security/test_audit_integrity.py)
    assert any(") > (" in sql for sql in walks)  # later batches start after the last key
    for sql in walks:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("EXPLAIN " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        # The index bounds the scan by age (only due rows are read), and hands them over already in walk order; a
        # later batch starts right after the last key, inside the index (not by filtering what it reads).
        assert "Sort" not in plan and re.search(r"Index Cond: .*\((created_at|received_at) <", plan), f"{sql}\n{plan}"
        if ") > (" in sql:
            assert re.search(r"Index Cond: .*ROW\(", plan), f"{sql}\n{plan}"
