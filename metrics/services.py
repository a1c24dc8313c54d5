"""Writes of the metrics roll-up: build it (count everything once) and fold the deltas the triggers append.

Only on PostgreSQL; elsewhere both do nothing and the selectors count live."""

from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from . import rollup_sql
from .selectors import metrics_rollup_supported

FOLD_BATCH = 50_000


@transaction.atomic
def metrics_rollup_build(*, zone: str | None = None) -> int:
    """Count every counted row again, in `zone` (default settings.TIME_ZONE), and switch the triggers to that zone.
    Writers to the counted tables wait for the duration (a SHARE lock; about 9 s for a million interactions).
    Returns the number of count rows."""
    if not metrics_rollup_supported():
        return 0
    zone = zone or settings.TIME_ZONE
    with connection.cursor() as cursor:
        for statement in rollup_sql.build_sql():
            cursor.execute(statement, {"zone": zone})
        cursor.execute(rollup_sql.zone_function_sql(zone))
        cursor.execute(f"SELECT count(*) FROM {rollup_sql.COUNT}")  # noqa: S608
        return cursor.fetchone()[0]


@transaction.atomic
def metrics_rollup_off() -> None:
    """Stop counting (the triggers return at once) and forget the counts; the selectors count live until a build."""
    if not metrics_rollup_supported():
        return
    with connection.cursor() as cursor:
        cursor.execute(rollup_sql.zone_function_sql(None))
        cursor.execute(f"TRUNCATE {rollup_sql.COUNT}, {rollup_sql.DELTA}")


@dataclass(frozen=True)
class FoldReport:
    deltas: int  # delta rows folded
    counts: int  # count rows inserted or changed
    skipped: bool = False  # another fold was running


def metrics_rollup_fold(*, batch: int = FOLD_BATCH, max_batches: int = 100) -> FoldReport:
    """Move the deltas into the counts, `batch` at a time (each batch one transaction: the deltas it deletes and the
    counts it adds commit together, so a reader adding both never sees a change twice or not at all). One fold at a
    time: a second one returns at once (skipped)."""
    if not metrics_rollup_supported():
        return FoldReport(0, 0)
    deltas = counts = 0
    for _ in range(max_batches):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [rollup_sql.FOLD_LOCK_KEY])
            if not cursor.fetchone()[0]:
                return FoldReport(deltas, counts, skipped=True)
            cursor.execute(rollup_sql.fold_sql(), {"batch": batch})
            moved, changed = cursor.fetchone()
            cursor.execute(rollup_sql.PRUNE_SQL)
        deltas += moved
        counts += changed
        if moved < batch:
            break
    return FoldReport(deltas, counts)
