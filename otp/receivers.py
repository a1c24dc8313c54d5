"""Receivers of the interactions app's signals (connected in OtpConfig.ready)."""

from interactions.models import MessageStatus

from .services import otp_delivery_failed

PERMANENT_FAILURES = frozenset({MessageStatus.FAILED, MessageStatus.UNDELIVERED})


def otp_on_message_status_changed(sender, *, message_id, status, previous_status=None, **kwargs) -> None:
    """An SMS that failed for good fails the pending challenge it carried (the customer never got the code)."""
    if status in PERMANENT_FAILURES:
        otp_delivery_failed(message_id=message_id)
