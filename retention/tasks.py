from celery import shared_task
from django.conf import settings

from contactcenter.common.tasks import enqueue


@shared_task(name="retention.apply")
def retention_apply_task() -> dict:
    """Daily (Celery beat): apply the retention policy. Each task works for RETENTION_TASK_MAX_SECONDS (below the
    task time limits), then hands what is left to a fresh task. Safe to run twice: a second run skips while one is
    in progress, and finds nothing left to do once the first has finished."""
    from .services import retention_apply

    report = retention_apply(trigger="beat", max_seconds=settings.RETENTION_TASK_MAX_SECONDS)
    if not report.skipped and not report.complete:
        enqueue(retention_apply_task)
    return {
        "run_id": report.run_id,
        "skipped": report.skipped,
        "complete": report.complete,
        "rows_redacted": report.rows_redacted,
        "rows_deleted": report.rows_deleted,
    }
