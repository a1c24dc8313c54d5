"""Reads about retention: a customer's interactions by full number (also after redaction), what is due, last runs."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from contactcenter.common.pii import InvalidPhoneNumber, phone_lookup_hashes, phone_normalize
from interactions.models import Interaction

from .models import RetentionRun
from .policy import ALL, CHANNELS
from .services import RuleResult, retention_due_counts


def interactions_for_phone(phone: str) -> QuerySet[Interaction]:
    """A customer's interactions by their full number, through the keyed hash: redacted rows (whose number is masked)
    are found as well. An unparseable number finds nothing."""
    try:
        hashes = phone_lookup_hashes(phone_normalize(phone))
    except InvalidPhoneNumber:
        return Interaction.objects.none()
    return Interaction.objects.filter(customer_phone_hash__in=hashes)


@dataclass(frozen=True)
class ChannelRetention:
    """One channel's line in the admin: what is due for redaction and deletion now, and the rules behind it."""

    channel: str
    results: list[RuleResult]

    @property
    def due_redaction(self) -> int:
        return sum(result.rows for result in self.results if result.rule.action == "redact")

    @property
    def due_deletion(self) -> int:
        return sum(result.rows for result in self.results if result.rule.action == "delete")


def retention_overview(*, now: datetime | None = None) -> list[ChannelRetention]:
    results = retention_due_counts(now=now or timezone.now())
    return [
        ChannelRetention(channel=channel, results=[result for result in results if result.rule.channel == channel])
        for channel in (*CHANNELS, ALL)
    ]


def retention_last_run() -> RetentionRun | None:
    """The last run that finished (completed or partial), for "when the policy last ran"."""
    return (
        RetentionRun.objects.filter(status__in=[RetentionRun.Status.COMPLETED, RetentionRun.Status.PARTIAL])
        .order_by("-started_at", "-id")
        .first()
    )
