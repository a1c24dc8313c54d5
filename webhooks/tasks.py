"""Periodic work of the webhooks app. Tasks take no secrets and are safe to run twice."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from interactions.providers.elevenlabs import ElevenLabsApiError

from .services import calls_reconcile, webhook_events_unapplied_sweep

logger = logging.getLogger("webhooks")

# How far back each periodic run looks: several runs overlap, so a call missed during an outage is still found.
RECONCILE_LOOKBACK = timedelta(hours=6)


@shared_task(name="webhooks.calls_reconcile")
def calls_reconcile_task() -> dict:
    """Recover calls whose post-call webhook never arrived (ElevenLabs does not retry by default)."""
    if not settings.ELEVENLABS_API_KEY:
        logger.info("calls_reconcile_skipped", extra={"reason": "ELEVENLABS_API_KEY is not set"})
        return {"skipped": True}
    try:
        report = calls_reconcile(since=timezone.now() - RECONCILE_LOOKBACK)
    except ElevenLabsApiError as exc:
        logger.warning("calls_reconcile_failed", extra={"error": str(exc), "http_status": exc.http_status})
        return {"error": str(exc)}
    return report.as_dict()


@shared_task(name="webhooks.events_sweep")
def events_sweep_task() -> int:
    """Apply deliveries stored but never applied (see `webhook_events_unapplied_sweep`)."""
    return webhook_events_unapplied_sweep(
        older_than=timedelta(seconds=settings.WEBHOOK_EVENTS_SWEEP_AFTER_SECONDS),
        limit=settings.WEBHOOK_EVENTS_SWEEP_BATCH_SIZE,
    )
