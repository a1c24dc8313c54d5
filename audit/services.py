"""The one way to write an audit record (call it inside the transaction of the change it records), the chain's
bulk writer, the purge of old records and the verification of the chain.

Every record takes the next place in one hash chain (audit/chain.py). Appending holds a transaction-level advisory
lock from the moment the record's place is read until the transaction ends: appends are serialised, positions have no
gaps, and the chain's order is the order of `created_at` (read after the lock)."""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from contactcenter.common.actors import Actor
from contactcenter.common.context import current_client_ip, current_request_id, ip_normalize
from contactcenter.common.db import advisory_xact_lock

from .actions import AuditAction
from .chain import FIELDS, GENESIS, chain_key, link_hash, link_valid
from .models import AuditLog, AuditPurgePolicy, AuditVerification

logger = logging.getLogger("contactcenter.audit")

CHAIN_LOCK = "audit-chain"
# The action and target of the retention purge's records: their `data.anchor` says where the chain now starts.
PURGE_ACTION = AuditAction.RETENTION_DELETE
PURGE_TARGET_TYPE = "audit_records"
# A verification older than this is reported as stale by /api/health (the task runs daily).
VERIFICATION_STALE_AFTER = timedelta(hours=48)


# --- Appending --------------------------------------------------------------------------------------------------------


def _chain_head() -> tuple[int, str]:
    """Lock the chain until the transaction ends, then read its last (position, hash)."""
    advisory_xact_lock(CHAIN_LOCK)
    head = AuditLog.objects.order_by("-chain_seq").values_list("chain_seq", "chain_hash").first()
    return head if head is not None else (0, GENESIS)


def audit_log_record(
    *,
    actor: Actor,
    action: AuditAction,
    target_type: str = "",
    target_id: object = "",
    data: dict | None = None,
    ip_address: str | None = None,
) -> AuditLog:
    """Append one audit record. `data` must hold no secret, code or unmasked phone number. Made while serving a
    request, the record carries the request's id and client address unless `ip_address` is given.

    Holds the chain's lock until the surrounding transaction commits (a transaction of its own when there is none):
    write the audit record as the last step of a change, after the change's own locks."""
    record = AuditLog(
        actor_type=actor.type,
        actor_id=str(actor.id)[:64],
        actor_label=str(actor.label)[:150],
        action=str(action),  # the plain value: what is stored and hashed
        target_type=target_type,
        target_id=str(target_id or "")[:64],
        data=data or {},
        ip_address=ip_normalize(ip_address) or current_client_ip(),
        request_id=current_request_id() or "",
    )
    with transaction.atomic(savepoint=False):
        seq, prev_hash = _chain_head()
        record.created_at = timezone.now()
        record.chain_seq = seq + 1
        record.chain_hash = link_hash(prev_hash=prev_hash, row={name: getattr(record, name) for name in FIELDS})
        record.save(force_insert=True)
    return record


def audit_records_chain(*, rows: list[dict]) -> None:
    """Give `rows` (audit records as dicts by field name, about to be bulk-written, e.g. with COPY) the next places in
    the chain, in the order given: fills `chain_seq`, `chain_hash` and the fields left out (their defaults), so that
    what is written is what was hashed. Call it inside the transaction that writes them: it holds the chain's lock
    until that transaction ends."""
    if not rows:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("audit_records_chain must run inside the transaction that writes the rows")
    defaults = {
        name: cast(Field, AuditLog._meta.get_field(name)) for name in FIELDS if name not in ("chain_seq", "created_at")
    }
    seq, prev_hash = _chain_head()
    key, now = chain_key(), timezone.now()
    for row in rows:
        for name, model_field in defaults.items():
            if name not in row:
                row[name] = model_field.get_default()
        row.setdefault("created_at", now)
        seq += 1
        row["chain_seq"] = seq
        row["chain_hash"] = prev_hash = link_hash(prev_hash=prev_hash, row=row, key=key)


# --- Purging ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditPurge:
    """What one call of the purge deleted: how many records, the last one's place and hash (the anchor the chain now
    starts from) and their time range."""

    deleted: int
    last_seq: int | None = None
    last_hash: str = ""
    first_at: datetime | None = None
    last_at: datetime | None = None

    def anchor(self) -> dict:
        return {"seq": self.last_seq, "hash": self.last_hash}


def audit_policy_days() -> int | None:
    """The retention policy's age, in days, before which no audit record may be deleted (None: never)."""
    policy = getattr(settings, "RETENTION_POLICY", {}) or {}
    return policy.get("all", {}).get("audit_records", {}).get("delete_after_days")


def audit_purge_policy_sync(*, using: str = "default") -> int | None:
    """Write the policy's age into the table `audit_purge` reads. Run by `migrate` (post_migrate), connected as the
    schema's owner: the application's role can neither read nor change that table."""
    days = audit_policy_days()
    AuditPurgePolicy.objects.using(using).update_or_create(
        pk=1, defaults={"delete_after_days": days, "updated_at": timezone.now()}
    )
    return days


def audit_purgeable(cutoff: datetime) -> Q:
    """The records a purge with `cutoff` may delete (for counting): older than the cutoff and placed before the first
    record that is not (the chain is only ever shortened from its start), never the last record."""
    kept = AuditLog.objects.filter(created_at__gte=cutoff).order_by("chain_seq").values("chain_seq")[:1]
    head = AuditLog.objects.order_by("-chain_seq").values("chain_seq")[:1]
    return Q(created_at__lt=cutoff, chain_seq__lt=Coalesce(Subquery(kept), Subquery(head)))


def audit_records_purge(*, cutoff: datetime, max_rows: int) -> AuditPurge:
    """Delete at most `max_rows` of the oldest audit records older than `cutoff`, from the start of the chain up to the
    first record that is not (never the last record). On PostgreSQL through `audit_purge`, which runs as the table's
    owner and never deletes what is younger than its own copy of the policy, whatever `cutoff` says; elsewhere (SQLite)
    the same rule here. Record the anchor it returns in the same transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM audit_purge(%s, %s)", [cutoff, int(max_rows)])
            deleted, last_seq, last_hash, first_at, last_at = cursor.fetchone()
        return AuditPurge(deleted or 0, last_seq, last_hash or "", first_at, last_at)
    days = audit_policy_days()
    if days is None or max_rows < 1:
        return AuditPurge(0)
    cutoff = min(cutoff, timezone.now() - timedelta(days=days))
    head = AuditLog.objects.order_by("-chain_seq").values_list("chain_seq", flat=True).first()
    if head is None:  # no records: nothing to purge
        return AuditPurge(0)
    doomed = []
    for row in AuditLog.objects.order_by("chain_seq").values("id", "chain_seq", "chain_hash", "created_at")[
        : min(max_rows, 10_000)
    ]:
        if row["created_at"] >= cutoff or row["chain_seq"] >= head:
            break
        doomed.append(row)
    if not doomed:
        return AuditPurge(0)
    AuditLog.objects.filter(pk__in=[row["id"] for row in doomed]).delete()
    return AuditPurge(
        len(doomed),
        doomed[-1]["chain_seq"],
        doomed[-1]["chain_hash"],
        doomed[0]["created_at"],
        doomed[-1]["created_at"],
    )


# --- Verifying --------------------------------------------------------------------------------------------------------


@dataclass
class ChainReport:
    """The outcome of one walk of the chain: intact, or the first broken link."""

    ok: bool = True
    rows: int = 0
    first_seq: int | None = None
    head_seq: int | None = None
    head_hash: str = ""
    problem: str = ""
    broken_seq: int | None = None
    broken_id: int | None = None
    detail: str = ""
    duration_ms: int = 0
    verified_at: datetime | None = None
    trigger: str = "command"
    verification_id: int | None = field(default=None, repr=False)

    def broken(self, problem: str, *, seq: int | None, record_id: int | None, detail: str) -> "ChainReport":
        self.ok, self.problem, self.broken_seq, self.broken_id, self.detail = False, problem, seq, record_id, detail
        return self

    def as_dict(self) -> dict:
        data = asdict(self)
        data["verified_at"] = self.verified_at.isoformat() if self.verified_at else None
        return data

    def summary(self) -> str:
        seconds = self.duration_ms / 1000
        if self.ok:
            span = f" (seq {self.first_seq}..{self.head_seq})" if self.rows else ""
            return f"audit chain ok: {self.rows} records{span} checked in {seconds:.1f}s."
        return f"audit chain BROKEN: {self.detail} ({self.rows} records checked in {seconds:.1f}s)."


def _last_anchor() -> dict | None:
    """Where the last purge left the start of the chain: {"seq", "hash"} of the last record it deleted."""
    data = (
        AuditLog.objects.filter(action=PURGE_ACTION, target_type=PURGE_TARGET_TYPE, data__has_key="anchor")
        .order_by("-chain_seq")
        .values_list("data", flat=True)
        .first()
    )
    anchor = (data or {}).get("anchor") or {}
    return anchor if anchor.get("seq") else None


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """On PostgreSQL, the whole walk sees one snapshot (REPEATABLE READ, read only): a purge or appends meanwhile do
    not look like gaps. Inside a transaction already (tests), that transaction's view."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    # A pending health check would run its SELECT 1 first inside the transaction: done before it starts.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _walk(report: ChainReport, *, batch_size: int, reference: AuditVerification | None) -> ChainReport:
    key = chain_key()
    anchor = _last_anchor()
    columns = ("id", *FIELDS, "chain_hash")
    prev_seq, prev_hash = None, GENESIS
    rows = AuditLog.objects.order_by("chain_seq").values(*columns)
    last = None
    while True:
        batch = list((rows if last is None else rows.filter(chain_seq__gt=last))[:batch_size])
        for row in batch:
            seq = row["chain_seq"]
            if prev_seq is None:
                report.first_seq = seq
                start = anchor["seq"] if anchor else 0
                prev_hash = anchor.get("hash", "") if anchor else GENESIS
                if seq != start + 1:
                    if anchor:
                        detail = (
                            f"the first record, seq {seq} (id {row['id']}), does not follow the last purge anchor "
                            f"(seq {start}): records at the start of the chain were deleted outside the purge"
                        )
                    else:
                        detail = (
                            f"the first record, seq {seq} (id {row['id']}), does not start the chain and no purge "
                            "anchor accounts for the records before it: they were deleted outside the purge"
                        )
                    return report.broken("start", seq=seq, record_id=row["id"], detail=detail)
            elif seq != prev_seq + 1:
                missing = f"seq {prev_seq + 1}" + (f" to {seq - 1}" if seq - 1 > prev_seq + 1 else "")
                detail = f"gap: {missing} missing (deleted) before seq {seq} (id {row['id']})"
                return report.broken("gap", seq=prev_seq + 1, record_id=row["id"], detail=detail)
            if not link_valid(prev_hash=prev_hash, row=row, key=key):
                detail = f"seq {seq} (id {row['id']}) was edited: its hash does not match its fields and the record before it"
                return report.broken("edited", seq=seq, record_id=row["id"], detail=detail)
            if reference is not None and seq == reference.head_seq and row["chain_hash"] != reference.head_hash:
                detail = (
                    f"tail cut off and written again: seq {seq} (id {row['id']}) is not the record verified as the head "
                    f"at {reference.verified_at.isoformat()}"
                )
                return report.broken("tail", seq=seq, record_id=row["id"], detail=detail)
            prev_seq, prev_hash = seq, row["chain_hash"]
            report.rows += 1
        if len(batch) < batch_size:
            break
        last = batch[-1]["chain_seq"]
    report.head_seq, report.head_hash = prev_seq, (prev_hash if prev_seq is not None else "")
    if reference is not None and (prev_seq or 0) < (reference.head_seq or 0):  # never null: filtered on it
        end = f"ends at seq {prev_seq}" if prev_seq is not None else "is empty"
        detail = (
            f"tail cut off: the chain {end}, but seq {reference.head_seq} was verified as its head at "
            f"{reference.verified_at.isoformat()}"
        )
        return report.broken("tail", seq=(prev_seq or 0) + 1, record_id=None, detail=detail)
    return report


def audit_chain_verify(*, batch_size: int = 5000, trigger: str = "command", record: bool = True) -> ChainReport:
    """Walk the chain from its start (or the last purge's anchor) to its head, recomputing every record's HMAC, and
    name the first broken link: a record edited, a gap (records deleted), a start that does not follow the last purge
    anchor (oldest records deleted outside the purge), or a head below the last good verification's (the tail cut
    off; a tail cut off and written again shows as that head's record changed). Records the outcome (the next walk
    compares its head with it) and logs `audit_chain_verified` or `audit_chain_broken`."""
    started = time.monotonic()
    reference = (
        AuditVerification.objects.filter(ok=True, head_seq__isnull=False).order_by("-verified_at", "-id").first()
    )
    report = ChainReport(trigger=trigger[:32])
    with _one_snapshot():
        _walk(report, batch_size=max(1, batch_size), reference=reference)
    report.duration_ms = round((time.monotonic() - started) * 1000)
    report.verified_at = timezone.now()
    if record:
        row = {key: value for key, value in report.as_dict().items() if key != "verification_id"}
        row["verified_at"] = report.verified_at
        report.verification_id = AuditVerification.objects.create(**row).pk
    extra = {
        "rows": report.rows,
        "first_seq": report.first_seq,
        "head_seq": report.head_seq,
        "head_hash": report.head_hash,
        "duration_ms": report.duration_ms,
        "trigger": report.trigger,
    }
    if report.ok:
        logger.info("audit_chain_verified", extra=extra)
    else:
        logger.error(
            "audit_chain_broken",
            extra={
                **extra,
                "problem": report.problem,
                "broken_seq": report.broken_seq,
                "broken_id": report.broken_id,
                "detail": report.detail,
            },
        )
    return report


def audit_chain_health() -> dict:
    """The last verification, for /api/health: whether the chain was intact, when, up to which position, and whether
    that is older than the daily task should allow."""
    last = (
        AuditVerification.objects.order_by("-verified_at", "-id")
        .values("ok", "verified_at", "head_seq", "problem")
        .first()
    )
    if last is None:
        return {"ok": None, "verified_at": None, "head_seq": None, "stale": True}
    body = {
        "ok": last["ok"],
        "verified_at": last["verified_at"].isoformat(),
        "head_seq": last["head_seq"],
        "stale": last["verified_at"] < timezone.now() - VERIFICATION_STALE_AFTER,
    }
    if not last["ok"]:
        body["problem"] = last["problem"]
    return body
