"""Celery tasks of interactions. Each takes ids only (never a body, code or phone number), reloads the row and calls a
service, and is harmless when run twice. Results are short outcome words.

A task imports its service inside its body; the services import the tasks they enqueue (one way at module level)."""

import logging
from datetime import timedelta

from celery import shared_task
from celery.exceptions import Retry
from django.conf import settings

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="interactions.message_deliver", max_retries=None)
def message_deliver_task(self, message_id: str) -> str:
    """Wake-up call for one queued message; the Message row says what to send.

    A transient failure asks Celery to run this again after the service's backoff delay. In eager mode (no broker)
    there is no waiting: the message stays `queued` for the sweeper. If the retry cannot be published, the same."""
    from .services import message_deliver

    outcome = message_deliver(message_id=message_id)
    if outcome.outcome != "retry" or self.request.is_eager:
        return outcome.outcome
    try:
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    except Retry:
        raise
    except Exception as exc:  # the broker went away between the attempt and the retry
        logger.warning(
            "message_retry_not_enqueued", extra={"message_id": message_id, "error_class": type(exc).__name__}
        )
        return "retry"


@shared_task(name="interactions.messages_sweep")
def messages_sweep_task() -> dict:
    """Beat: enqueue again outbound messages whose wake-up call was lost, recover sends interrupted by a dead worker."""
    from .services import message_sweep

    report = message_sweep()
    return {"requeued": report.requeued, "recovered": report.recovered}


@shared_task(name="interactions.sms_reconcile")
def sms_reconcile_task() -> int:
    """Beat: fetch from Twilio the status of SMS stuck in a non-final status, apply it forward-only."""
    from .services import sms_reconcile_stale

    return sms_reconcile_stale(
        older_than=timedelta(seconds=settings.SMS_RECONCILE_OLDER_THAN_SECONDS), limit=settings.SMS_RECONCILE_BATCH_SIZE
    )
