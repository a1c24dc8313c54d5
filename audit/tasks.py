from celery import shared_task

# A walk of millions of records takes minutes: more than the default task time limits allow.
VERIFY_SOFT_TIME_LIMIT = 3300
VERIFY_TIME_LIMIT = 3600


@shared_task(name="audit.verify", soft_time_limit=VERIFY_SOFT_TIME_LIMIT, time_limit=VERIFY_TIME_LIMIT)
def audit_verify_task() -> dict:
    """Daily (Celery beat): walk the audit chain, record the outcome (reported by /api/health) and log it
    (`audit_chain_verified`, or `audit_chain_broken` at ERROR naming the first broken link). Harmless when run twice."""
    from .services import audit_chain_verify

    report = audit_chain_verify(trigger="beat")
    return {
        "ok": report.ok,
        "rows": report.rows,
        "head_seq": report.head_seq,
        "problem": report.problem,
        "broken_seq": report.broken_seq,
        "broken_id": report.broken_id,
    }
