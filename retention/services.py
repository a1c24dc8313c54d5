"""Applying the retention policy, and erasing one customer's data.

`retention_apply` walks the policy's rules (retention/policy.py). For each rule it selects due rows by primary key,
at most `RETENTION_BATCH_SIZE` (<= 1000) at a time, with `FOR UPDATE SKIP LOCKED` (a row a webhook or a task is
writing is left for the next run), changes them in one short transaction whose lock waits are capped
(`RETENTION_LOCK_TIMEOUT_MS`), and writes one audit record per batch. Every change is conditional on the row still
being due, so running twice changes nothing the second time.

`customer_erase` redacts everything of one phone number at once, whatever its age, in one transaction, audited with
the reason given.
"""

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import BooleanField, Case, Q, TextField, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from audit.actions import AuditAction
from audit.models import AuditLog
from audit.services import audit_log_record, audit_purgeable, audit_records_purge
from contactcenter.common.actors import Actor
from contactcenter.common.db import advisory_xact_lock
from contactcenter.common.domain import InvalidInput
from contactcenter.common.pii import (
    InvalidPhoneNumber,
    phone_hash,
    phone_lookup_hashes,
    phone_mask,
    phone_normalize,
    phone_spellings,
)
from interactions.models import CallDetail, Direction, Interaction, Message
from otp.models import OtpChallenge, OtpStatus
from webhooks.models import InteractionEvent

from .models import RetentionRun
from .policy import DELETE, REDACT, Rule, retention_rules
from .redaction import REDACTED, json_redact, phone_redact, phones_mask, raw_body_redact, text_redact

logger = logging.getLogger("contactcenter.retention")

RETENTION_ACTOR = Actor.system("retention")
# The audit record of a batch, by what the rule did to it.
RULE_AUDIT_ACTIONS = {REDACT: AuditAction.RETENTION_REDACT, DELETE: AuditAction.RETENTION_DELETE}
# Session-level advisory lock key: one policy run at a time (beat, a command and an admin may start one together).
_RUN_LOCK_KEY = 0x7265_7465_6E74  # "retent"


# --- What redaction and deletion do to one batch of rows ----------------------------------------------------------


def _bulk_set(model: type[Any], objs: list, fields: list[str]) -> None:
    """Write `fields` of every object in `objs` with one statement. On PostgreSQL `UPDATE … FROM unnest(arrays)`: one
    array parameter per column, so the statement is the same short text for any batch (cheap to send and to plan,
    unlike `bulk_update`'s CASE per field or a VALUES list of thousands of placeholders); elsewhere `bulk_update`.
    Never calls `save()`."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields)
        return
    meta, quote = model._meta, connection.ops.quote_name
    pk = meta.pk
    columns = [pk, *(meta.get_field(name) for name in fields)]
    arrays = [[field.get_db_prep_value(getattr(obj, field.attname), connection) for obj in objs] for field in columns]
    names = ", ".join(quote(field.column) for field in columns)
    typed_arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in columns)
    assignments = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in columns[1:])
    # Identifiers come from the model (quoted), every value is a parameter.
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608
        f"FROM unnest({typed_arrays}) AS v({names}) "
        f"WHERE t.{quote(pk.column)} = v.{quote(pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)


def _recording_storage():
    return CallDetail._meta.get_field("recording").storage


def _recording_files_delete(details: Iterable[CallDetail]) -> tuple[set, int]:
    """Delete the recording files of `details` from storage. Returns the primary keys whose file could not be
    deleted (their reference is kept, so the next run tries again) and how many files were deleted."""
    storage = _recording_storage()
    failed, deleted = set(), 0
    for detail in details:
        name = detail.recording.name if detail.recording else ""
        if not name:
            continue
        try:
            storage.delete(name)
        except Exception as exc:  # any storage backend error: keep the reference, try again next run
            logger.warning(
                "retention_recording_delete_failed",
                extra={"interaction_id": str(detail.pk), "error_class": type(exc).__name__},
            )
            failed.add(detail.pk)
            continue
        deleted += 1
    return failed, deleted


def _interactions_redact(ids: list, *, now: datetime) -> Counter:
    """Phone numbers masked (the keyed hash kept), subject/summary replaced by the marker, metadata scrubbed; the
    call detail's numbers and metadata likewise. `bulk_update` does not call `save`, so the hash is not recomputed."""
    rows = list(
        Interaction.objects.filter(pk__in=ids).only(
            "id",
            "customer_phone",
            "customer_phone_hash",
            "customer_address",
            "subject",
            "summary",
            "metadata",
            "redacted_at",
        )
    )
    for row in rows:
        if row.customer_phone and "*" not in row.customer_phone and not row.customer_phone_hash:
            row.customer_phone_hash = phone_hash(row.customer_phone)
        row.customer_phone = phone_redact(row.customer_phone)
        row.customer_address = ""  # the provider's spelling of the same number
        row.subject = text_redact(row.subject)
        row.summary = text_redact(row.summary)
        row.metadata = json_redact(row.metadata)
        row.redacted_at = row.redacted_at or now
    _bulk_set(
        Interaction,
        rows,
        ["customer_phone", "customer_phone_hash", "customer_address", "subject", "summary", "metadata", "redacted_at"],
    )
    details = list(
        CallDetail.objects.filter(interaction_id__in=ids).only(
            "interaction_id", "customer_number", "agent_number", "metadata"
        )
    )
    for detail in details:
        detail.customer_number = phone_redact(detail.customer_number)
        detail.agent_number = phone_redact(detail.agent_number)
        detail.metadata = json_redact(detail.metadata)
    _bulk_set(CallDetail, details, ["customer_number", "agent_number", "metadata"])
    return Counter(interactions=len(rows), call_details=len(details))


def _messages_phones_redact(ids: list, *, now: datetime) -> Counter:
    rows = list(Message.objects.filter(pk__in=ids).only("id", "to_phone", "from_phone", "to_address", "error_message"))
    for row in rows:
        row.to_phone = phone_redact(row.to_phone)
        row.from_phone = phone_redact(row.from_phone)
        row.to_address = ""
        row.error_message = phones_mask(row.error_message)
    _bulk_set(Message, rows, ["to_phone", "from_phone", "to_address", "error_message"])
    return Counter(messages=len(rows))


def _messages_bodies_redact(ids: list, *, now: datetime) -> Counter:
    # Nothing to compute per row: one UPDATE, no rows read into Python (text_redact's rule, in SQL).
    changed = Message.objects.filter(pk__in=ids).update(
        body=Case(When(body="", then=Value("")), default=Value(REDACTED)), media_url=""
    )
    return Counter(messages=changed)


def _transcripts_redact(ids: list, *, now: datetime) -> Counter:
    """Each transcript turn keeps its role and timing, its words become the marker; summaries and the analysis too.
    `summary` is always set to the marker: it is what tells a redacted transcript from one still due."""
    rows = list(
        CallDetail.objects.filter(pk__in=ids).only(
            "interaction_id", "transcript", "summary", "summary_title", "analysis"
        )
    )
    for row in rows:
        row.transcript = json_redact(row.transcript)
        row.summary = REDACTED
        row.summary_title = text_redact(row.summary_title)
        row.analysis = json_redact(row.analysis)
    _bulk_set(CallDetail, rows, ["transcript", "summary", "summary_title", "analysis"])
    Interaction.objects.filter(pk__in=ids).exclude(summary__in=["", REDACTED]).update(summary=REDACTED)
    return Counter(call_details=len(rows))


def _recordings_redact(ids: list, *, now: datetime) -> Counter:
    rows = list(CallDetail.objects.filter(pk__in=ids).only("interaction_id", "recording", "recording_url"))
    failed, deleted = _recording_files_delete(rows)
    rows = [row for row in rows if row.pk not in failed]
    for row in rows:
        row.recording = ""
        row.recording_url = ""
    _bulk_set(CallDetail, rows, ["recording", "recording_url"])
    return Counter(call_details=len(rows), recording_files=deleted, recording_files_failed=len(failed))


def _events_redact(ids: list, *, now: datetime) -> Counter:
    rows = list(
        InteractionEvent.objects.filter(pk__in=ids).only(
            "id", "payload", "raw_body", "headers", "normalized", "error", "external_ref", "redacted_at"
        )
    )
    for row in rows:
        row.payload = json_redact(row.payload)
        row.raw_body = raw_body_redact(row.raw_body)
        row.headers = json_redact(row.headers)
        row.normalized = json_redact(row.normalized)
        row.error = phones_mask(row.error)
        row.external_ref = phones_mask(row.external_ref)
        row.redacted_at = row.redacted_at or now
    _bulk_set(
        InteractionEvent,
        rows,
        ["payload", "raw_body", "headers", "normalized", "error", "external_ref", "redacted_at"],
    )
    return Counter(events=len(rows))


def _otp_challenges_redact(ids: list, *, now: datetime) -> Counter:
    """The phone masked (its keyed hash kept). A challenge still pending is closed first (expired, or canceled when
    its code was still valid), so no pending challenge ever carries a masked number."""
    rows = list(
        OtpChallenge.objects.filter(pk__in=ids).only("id", "phone", "phone_hash", "status", "expires_at", "closed_at")
    )
    for row in rows:
        if row.phone and "*" not in row.phone and not row.phone_hash:
            row.phone_hash = phone_hash(row.phone)
        row.phone = phone_redact(row.phone)
        if row.status == OtpStatus.PENDING:
            row.status = OtpStatus.EXPIRED if row.expires_at <= now else OtpStatus.CANCELED
            row.closed_at = row.closed_at or now
    _bulk_set(OtpChallenge, rows, ["phone", "phone_hash", "status", "closed_at"])
    return Counter(otp_challenges=len(rows))


def _deleted_counts(result: tuple[int, dict]) -> Counter:
    labels = {
        "interactions.Interaction": "interactions",
        "interactions.Message": "messages",
        "interactions.CallDetail": "call_details",
        "webhooks.InteractionEvent": "events",
        "otp.OtpChallenge": "otp_challenges",
        "audit.AuditLog": "audit_records",
    }
    return Counter({labels.get(label, label): count for label, count in result[1].items() if count})


def _interactions_delete(ids: list, *, now: datetime) -> Counter:
    """The interactions with everything hanging from them: messages and call details (CASCADE), and also their raw
    events and OTP challenges (their foreign keys are SET_NULL, but personal data must not outlive its interaction),
    and the recording files in storage."""
    details = (
        CallDetail.objects.filter(interaction_id__in=ids).exclude(recording="").only("interaction_id", "recording")
    )
    _, files = _recording_files_delete(details)
    counts = _deleted_counts(
        OtpChallenge.objects.filter(Q(interaction_id__in=ids) | Q(message__interaction_id__in=ids)).delete()
    )
    counts += _deleted_counts(InteractionEvent.objects.filter(interaction_id__in=ids).delete())
    counts += _deleted_counts(Interaction.objects.filter(pk__in=ids).delete())
    if files:
        counts["recording_files"] = files
    return counts


def _events_delete(ids: list, *, now: datetime) -> Counter:
    return _deleted_counts(InteractionEvent.objects.filter(pk__in=ids).delete())


def _otp_challenges_delete(ids: list, *, now: datetime) -> Counter:
    return _deleted_counts(OtpChallenge.objects.filter(pk__in=ids).delete())


def _audit_records_purge(*, result: "RuleResult", now: datetime, run_id: int | None, deadline: float | None) -> bool:
    """Audit records are not selected and deleted here: the application's database role may not delete them. Each
    batch calls `audit_records_purge` (the `audit_purge` function on PostgreSQL, run as the table's owner), which
    deletes the oldest records due, from the start of the hash chain, never younger than its own copy of the policy;
    the batch's `retention.delete` record, in the same transaction, carries the anchor the chain now starts from
    (`audit_verify` checks the chain's first record against it). False when the time budget ran out."""
    rule, size = result.rule, _batch_size()
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            return False
        try:
            with transaction.atomic():
                _cap_lock_waits()
                purge = audit_records_purge(cutoff=result.cutoff, max_rows=size)
                if not purge.deleted:
                    return True
                audit_log_record(
                    actor=RETENTION_ACTOR,
                    action=RULE_AUDIT_ACTIONS[rule.action],
                    target_type="audit_records",
                    target_id=rule.channel,
                    data={
                        "run_id": run_id,
                        "policy": {**rule.as_dict(), "cutoff": result.cutoff.isoformat()},
                        "counts": {"audit_records": purge.deleted},
                        "time_range": {"from": purge.first_at.isoformat(), "to": purge.last_at.isoformat()},  # type: ignore[union-attr]  # set when records were deleted
                        "anchor": purge.anchor(),
                    },
                )
        except OperationalError as exc:  # a lock wait over the cap: left to the next run
            logger.warning(
                "retention_batch_failed",
                extra={"rule": f"{rule.channel}.{rule.kind}.{rule.action}", "error_class": type(exc).__name__},
            )
            result.failed_batches += 1
            return True
        result.rows += purge.deleted
        result.batches += 1
        result.counts["audit_records"] += purge.deleted
        if purge.deleted < size:
            return True
        _batch_pause()


# --- Which rows each rule reaches ---------------------------------------------------------------------------------


def _unmasked(field_name: str) -> Q:
    return ~Q(**{field_name: ""}) & ~Q(**{f"{field_name}__contains": "*"})


@dataclass(frozen=True)
class _Target:
    """One table a rule changes: which of its rows are due (for a channel and a cutoff), and what to do to a batch."""

    label: str
    model: type[Any]  # a model class
    age_field: str
    due: Callable[[str, datetime], Q]
    apply: Callable[..., Counter] | None
    # A walk of its own instead of select-and-apply batches (audit records: their purge function).
    walk: Callable[..., bool] | None = None


TARGETS: dict[tuple[str, str], tuple[_Target, ...]] = {
    ("phone_numbers", REDACT): (
        _Target(
            "interactions",
            Interaction,
            "created_at",
            lambda channel, cutoff: Q(channel=channel, created_at__lt=cutoff, redacted_at__isnull=True),
            _interactions_redact,
        ),
        _Target(
            "messages",
            Message,
            "created_at",
            lambda channel, cutoff: (
                Q(channel=channel, created_at__lt=cutoff) & (_unmasked("to_phone") | _unmasked("from_phone"))
            ),
            _messages_phones_redact,
        ),
    ),
    ("message_bodies", REDACT): (
        _Target(
            "messages",
            Message,
            "created_at",
            lambda channel, cutoff: (
                Q(channel=channel, created_at__lt=cutoff) & ((~Q(body="") & ~Q(body=REDACTED)) | ~Q(media_url=""))
            ),
            _messages_bodies_redact,
        ),
    ),
    # Call details exist only for calls: the channel needs no join.
    ("transcripts", REDACT): (
        _Target(
            "call_details",
            CallDetail,
            "created_at",
            lambda channel, cutoff: Q(created_at__lt=cutoff) & ~Q(summary=REDACTED),
            _transcripts_redact,
        ),
    ),
    ("recordings", REDACT): (
        _Target(
            "call_details",
            CallDetail,
            "created_at",
            lambda channel, cutoff: Q(created_at__lt=cutoff) & (~Q(recording="") | ~Q(recording_url="")),
            _recordings_redact,
        ),
    ),
    ("interactions", DELETE): (
        _Target(
            "interactions",
            Interaction,
            "created_at",
            lambda channel, cutoff: Q(channel=channel, created_at__lt=cutoff),
            _interactions_delete,
        ),
    ),
    ("raw_events", REDACT): (
        _Target(
            "events",
            InteractionEvent,
            "received_at",
            lambda channel, cutoff: Q(received_at__lt=cutoff, redacted_at__isnull=True),
            _events_redact,
        ),
    ),
    ("raw_events", DELETE): (
        _Target(
            "events", InteractionEvent, "received_at", lambda channel, cutoff: Q(received_at__lt=cutoff), _events_delete
        ),
    ),
    ("otp_challenges", REDACT): (
        _Target(
            "otp_challenges",
            OtpChallenge,
            "created_at",
            lambda channel, cutoff: Q(created_at__lt=cutoff) & _unmasked("phone"),
            _otp_challenges_redact,
        ),
    ),
    ("otp_challenges", DELETE): (
        _Target(
            "otp_challenges",
            OtpChallenge,
            "created_at",
            lambda channel, cutoff: Q(created_at__lt=cutoff),
            _otp_challenges_delete,
        ),
    ),
    ("audit_records", DELETE): (
        _Target(
            "audit_records",
            AuditLog,
            "created_at",
            lambda channel, cutoff: audit_purgeable(cutoff),
            None,
            walk=_audit_records_purge,
        ),
    ),
}


def rule_targets(rule: Rule) -> tuple[_Target, ...]:
    return TARGETS[(rule.kind, rule.action)]


# --- Applying the policy ------------------------------------------------------------------------------------------


@dataclass
class RuleResult:
    rule: Rule
    cutoff: datetime
    rows: int = 0
    batches: int = 0
    counts: Counter = field(default_factory=Counter)
    failed_batches: int = 0

    def as_dict(self) -> dict:
        return {
            **self.rule.as_dict(),
            "cutoff": self.cutoff.isoformat(),
            "rows": self.rows,
            "batches": self.batches,
            "counts": dict(self.counts),
            "failed_batches": self.failed_batches,
        }


@dataclass
class RetentionReport:
    """What a run did (or, dry, would do): one result per rule of the policy."""

    now: datetime
    dry_run: bool
    results: list[RuleResult] = field(default_factory=list)
    # False when the run stopped at its time budget, with work left for the next run.
    complete: bool = True
    # True when another run held the lock and this one did nothing.
    skipped: bool = False
    run_id: int | None = None

    def _rows(self, action: str) -> int:
        return sum(result.rows for result in self.results if result.rule.action == action)

    @property
    def rows_redacted(self) -> int:
        return self._rows(REDACT)

    @property
    def rows_deleted(self) -> int:
        return self._rows(DELETE)

    @property
    def batches(self) -> int:
        return sum(result.batches for result in self.results)

    def counts(self) -> dict:
        return {f"{r.rule.channel}.{r.rule.kind}.{r.rule.action}": r.rows for r in self.results}

    def summary(self) -> str:
        if self.skipped:
            return "Retention not applied: another run is in progress."
        verb = "would redact" if self.dry_run else "redacted"
        verb_delete = "would delete" if self.dry_run else "deleted"
        text = f"Retention {'dry run' if self.dry_run else 'applied'}: {verb} {self.rows_redacted} rows, "
        text += f"{verb_delete} {self.rows_deleted} rows"
        if not self.dry_run:
            text += f" in {self.batches} batches"
        if not self.complete:
            text += " (stopped at its time budget; the rest is left for the next run)"
        return text + "."


def _batch_size() -> int:
    return max(1, min(int(settings.RETENTION_BATCH_SIZE), 1000))


def _cap_lock_waits() -> None:
    """Inside a batch's transaction: wait at most RETENTION_LOCK_TIMEOUT_MS for any lock, so a batch never holds up
    webhook ingestion behind it for longer (a batch that times out is retried by the next run)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true)", [f"{int(settings.RETENTION_LOCK_TIMEOUT_MS)}ms"]
            )


def _batch_pause() -> None:
    if settings.RETENTION_BATCH_PAUSE_MS > 0:
        time.sleep(settings.RETENTION_BATCH_PAUSE_MS / 1000)


def _after(model: type[Any], age_field: str, key: tuple) -> RawSQL:
    """Rows after `key` = (age, pk) in (age, pk) order: a row comparison, which PostgreSQL answers from the
    (age, pk) index by starting right after the key, so each batch reads only its own rows."""
    meta, quote = model._meta, connection.ops.quote_name
    table = quote(meta.db_table)
    age_column, pk_column = quote(meta.get_field(age_field).column), quote(meta.pk.column)
    # Identifiers come from the model (quoted), the key's values are parameters.
    return RawSQL(f"({table}.{age_column}, {table}.{pk_column}) > (%s, %s)", key, output_field=BooleanField())  # noqa: S611


def _apply_target(
    *, result: RuleResult, target: _Target, now: datetime, run_id: int | None, deadline: float | None
) -> bool:
    """All due rows of one table, batch after batch, oldest first. False when the time budget ran out.

    Batches walk the table by (age, primary key) from where the last one stopped: the due rows are read straight
    from an index in that order, so a batch costs the same at the end of a million rows as at the start."""
    if target.walk is not None:
        return target.walk(result=result, now=now, run_id=run_id, deadline=deadline)
    assert target.apply is not None, "a target without a walk of its own applies batches"
    rule, size = result.rule, _batch_size()
    last_key = None
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            return False
        ids: list = []
        try:
            with transaction.atomic():
                _cap_lock_waits()
                due = target.model.objects.filter(target.due(rule.channel, result.cutoff))
                if last_key is not None:
                    due = due.filter(_after(target.model, target.age_field, last_key))
                rows = list(
                    due.order_by(target.age_field, "pk")
                    .select_for_update(skip_locked=True)
                    .values_list("pk", target.age_field)[:size]
                )
                if not rows:
                    return True
                ids = [pk for pk, _ in rows]
                counts = target.apply(ids, now=now)
                audit_log_record(
                    actor=RETENTION_ACTOR,
                    action=RULE_AUDIT_ACTIONS[rule.action],
                    target_type=target.label,
                    target_id=rule.channel,
                    data={
                        "run_id": run_id,
                        "policy": {**rule.as_dict(), "cutoff": result.cutoff.isoformat()},
                        "counts": dict(counts),
                        "time_range": {"from": rows[0][1].isoformat(), "to": rows[-1][1].isoformat()},
                    },
                )
        except OperationalError as exc:  # a lock wait over the cap: leave this batch to the next run
            logger.warning(
                "retention_batch_failed",
                extra={"rule": f"{rule.channel}.{rule.kind}.{rule.action}", "error_class": type(exc).__name__},
            )
            result.failed_batches += 1
            if not ids:
                return True
            last_key = (rows[-1][1], rows[-1][0])
            continue
        result.rows += len(ids)
        result.batches += 1
        result.counts += counts
        last_key = (rows[-1][1], rows[-1][0])
        if len(rows) < size:
            return True
        _batch_pause()


def _run_lock_try() -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_RUN_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def _run_lock_release() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_RUN_LOCK_KEY])


def retention_due_counts(*, now: datetime | None = None) -> list[RuleResult]:
    """How many rows each rule of the policy would change now (the dry run, and the admin's overview)."""
    now = now or timezone.now()
    results = []
    for rule in retention_rules():
        result = RuleResult(rule=rule, cutoff=rule.cutoff(now))
        for target in rule_targets(rule):
            rows = target.model.objects.filter(target.due(rule.channel, result.cutoff)).count()
            result.rows += rows
            result.counts[target.label] += rows
        results.append(result)
    return results


def retention_apply(
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    trigger: str = "command",
    max_seconds: float | None = None,
) -> RetentionReport:
    """Apply the retention policy as of `now` (default: the current time). A dry run only counts what is due.

    One run at a time: when another holds the lock the report says `skipped`. With `max_seconds` the run stops
    between batches once its time is up (`complete` False) so a task can hand the rest to a fresh one."""
    now = now or timezone.now()
    if dry_run:
        return RetentionReport(now=now, dry_run=True, results=retention_due_counts(now=now))
    if not _run_lock_try():
        return RetentionReport(now=now, dry_run=False, skipped=True)
    try:
        return _retention_run(now=now, trigger=trigger, max_seconds=max_seconds)
    finally:
        _run_lock_release()


def _retention_run(*, now: datetime, trigger: str, max_seconds: float | None) -> RetentionReport:
    run = RetentionRun.objects.create(
        trigger=trigger[:32], started_at=timezone.now(), policy_now=now, policy=settings.RETENTION_POLICY
    )
    report = RetentionReport(now=now, dry_run=False, run_id=run.pk)
    deadline = time.monotonic() + max_seconds if max_seconds else None
    try:
        for rule in retention_rules():
            result = RuleResult(rule=rule, cutoff=rule.cutoff(now))
            report.results.append(result)
            for target in rule_targets(rule):
                if report.complete and not _apply_target(
                    result=result, target=target, now=now, run_id=run.pk, deadline=deadline
                ):
                    report.complete = False
    except Exception as exc:
        _run_finish(run, report, status=RetentionRun.Status.FAILED, error=type(exc).__name__)
        raise
    status = RetentionRun.Status.COMPLETED if report.complete else RetentionRun.Status.PARTIAL
    _run_finish(run, report, status=status)
    return report


def _run_finish(run: RetentionRun, report: RetentionReport, *, status: str, error: str = "") -> None:
    with transaction.atomic():
        run.status = status
        run.finished_at = timezone.now()
        run.counts = {"rules": [result.as_dict() for result in report.results]}
        run.rows_redacted = report.rows_redacted
        run.rows_deleted = report.rows_deleted
        run.batches = report.batches
        run.error = error
        run.save(update_fields=["status", "finished_at", "counts", "rows_redacted", "rows_deleted", "batches", "error"])
        audit_log_record(
            actor=RETENTION_ACTOR,
            action=AuditAction.RETENTION_RUN,
            target_type="retention_run",
            target_id=run.pk,
            data={
                "status": status,
                "policy_now": report.now.isoformat(),
                "rows_redacted": report.rows_redacted,
                "rows_deleted": report.rows_deleted,
                "batches": report.batches,
                "counts": report.counts(),
                "error": error,
            },
        )


# --- Erasing one customer -----------------------------------------------------------------------------------------


def _chunks(ids: Iterable, size: int = 1000) -> Iterator[list]:
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _events_mentioning(spellings: list[str]) -> Q:
    """Raw events whose payload, normalized form or reference carries the number in any of its spellings (with or
    without `+`, URL-encoded or not: the digit run is the same)."""
    condition = Q(pk__in=[])
    for spelling in spellings:
        digits = spelling.lstrip("+")
        condition |= (
            Q(payload_text__contains=digits)
            | Q(normalized_text__contains=digits)
            | Q(external_ref__contains=digits)
            | Q(raw_body__contains=digits)
        )
    return condition


def customer_erase(
    *, phone: str, reason: str, actor: Actor, dry_run: bool = False, ip_address: str | None = None
) -> dict:
    """Redact everything of one phone number at once, whatever its age: its interactions (phone, subject, summary,
    metadata), their messages (numbers, bodies, media), call details (numbers, transcript, summaries, recording
    files), the raw webhook events about them or mentioning the number, and its OTP challenges (a pending one is
    closed). The keyed hash stays, so the customer's history is still found by the full number. Audited with the
    reason (phone numbers in it masked). Returns the masked phone and the counts."""
    try:
        e164 = phone_normalize(phone)
    except InvalidPhoneNumber as exc:
        raise InvalidInput(f"Not a phone number we can erase: {exc}.", code="invalid_phone", attr="phone") from exc
    reason = phones_mask(" ".join(str(reason or "").split()))
    if not reason:
        raise InvalidInput("Give the reason for the erasure.", code="reason_required", attr="reason")
    bank_numbers = {settings.TWILIO_FROM_NUMBER} - {""}
    if e164 in bank_numbers:
        raise InvalidInput("This is the bank's own sender number, not a customer's.", code="invalid_phone")
    hashed = phone_hash(e164)
    hashes, spellings = phone_lookup_hashes(e164), phone_spellings(e164)
    with transaction.atomic():
        advisory_xact_lock(f"retention.customer_erase:{hashed}")
        interaction_ids = set(
            Interaction.objects.filter(Q(customer_phone_hash__in=hashes) | Q(customer_phone__in=spellings)).values_list(
                "pk", flat=True
            )
        )
        interaction_ids |= set(
            CallDetail.objects.filter(customer_number__in=spellings).values_list("interaction_id", flat=True)
        )
        customer_messages = Q(direction=Direction.INBOUND, from_phone__in=spellings) | Q(
            direction=Direction.OUTBOUND, to_phone__in=spellings
        )
        interaction_ids |= set(Message.objects.filter(customer_messages).values_list("interaction_id", flat=True))
        ids = sorted(interaction_ids, key=str)
        message_ids = list(
            Message.objects.filter(Q(interaction_id__in=ids) | customer_messages).values_list("pk", flat=True)
        )
        detail_ids = list(CallDetail.objects.filter(interaction_id__in=ids).values_list("pk", flat=True))
        event_ids = list(
            InteractionEvent.objects.annotate(
                payload_text=Cast("payload", TextField()), normalized_text=Cast("normalized", TextField())
            )
            .filter(Q(interaction_id__in=ids) | _events_mentioning(spellings))
            .values_list("pk", flat=True)
        )
        otp_ids = list(
            OtpChallenge.objects.filter(
                Q(phone_hash__in=hashes)
                | Q(phone__in=spellings)
                | Q(interaction_id__in=ids)
                | Q(message_id__in=message_ids)
            ).values_list("pk", flat=True)
        )
        counts = Counter(
            interactions=len(ids),
            messages=len(message_ids),
            call_details=len(detail_ids),
            events=len(event_ids),
            otp_challenges=len(otp_ids),
        )
        if not dry_run:
            now = timezone.now()
            recording_files = 0
            for redact, targets in (
                (_interactions_redact, ids),
                (_messages_phones_redact, message_ids),
                (_messages_bodies_redact, message_ids),
                (_transcripts_redact, detail_ids),
                (_recordings_redact, detail_ids),
                (_events_redact, event_ids),
                (_otp_challenges_redact, otp_ids),
            ):
                for chunk in _chunks(targets):
                    recording_files += redact(chunk, now=now).get("recording_files", 0)
            counts["recording_files"] = recording_files
            audit_log_record(
                actor=actor,
                action=AuditAction.RETENTION_CUSTOMER_ERASE,
                target_type="customer",
                target_id=hashed,
                data={"phone": phone_mask(e164), "reason": reason, "counts": dict(counts)},
                ip_address=ip_address,
            )
    return {"phone": phone_mask(e164), "dry_run": dry_run, "counts": dict(counts)}
