"""Signal receivers connected in WebhooksConfig.ready()."""

import logging

from django.db import transaction

logger = logging.getLogger("webhooks")


def deferred_status_callbacks_apply(sender, message_id=None, provider_message_id=None, **kwargs) -> None:
    """A message just got its provider id: apply the status callbacks that arrived before it (kept `deferred`).

    Runs after the assigning transaction commits, and never lets a failure reach the sender (the delivery task):
    what is not applied stays deferred, for replay."""
    if not provider_message_id:
        return

    def apply() -> None:
        from .services import webhook_deferred_apply

        try:
            webhook_deferred_apply(provider_message_id=str(provider_message_id))
        except Exception:
            logger.exception("webhook_deferred_apply_error", extra={"message_id": str(message_id or "")})

    transaction.on_commit(apply)
