from celery import shared_task

from .services.delivery import message_deliver


@shared_task(name="interactions.message_deliver")
def message_deliver_task(message_id: str) -> str:
    """Wake-up call for one queued message; the Message row says what to send. Safe to run twice."""
    return message_deliver(message_id=message_id)
