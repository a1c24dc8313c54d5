"""Periodic work of the metrics app. Safe to run twice (a second fold at the same time returns at once)."""

from celery import shared_task


@shared_task(name="metrics.rollup_fold")
def metrics_rollup_fold_task() -> dict:
    """Fold the roll-up's deltas into its counts, so that reads add few of them (see metrics.services)."""
    from .services import metrics_rollup_fold

    report = metrics_rollup_fold()
    return {"deltas": report.deltas, "counts": report.counts, "skipped": report.skipped}
