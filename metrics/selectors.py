"""The metrics, computed in the database: a handful of aggregate queries over indexed time ranges, whatever the size
of the tables. Definitions (also in docs/api.md, "Metrics"):

Window. `date_from` and `date_to` are calendar days in TIME_ZONE, both included. Each record counts on the day it
was created: interactions by `created_at`, messages by `created_at`, OTP challenges by `created_at`, webhook
deliveries by `received_at`. An optional `channel` narrows every measure that belongs to a channel.

- interactions: interactions created in the window, counted by channel and by status (their status now).
- calls: voice interactions created in the window whose call detail has a duration. `avg_duration_seconds` is the
  mean and `p90_duration_seconds` the continuous 90th percentile (PostgreSQL `percentile_cont`) of that duration,
  from the provider's call start to its end. Calls without a duration (still running, or failed before connecting)
  are excluded.
- messages: outbound messages of one channel (`sms` unless `channel=whatsapp`) created in the window. `delivered`
  counts status delivered or read; `failed` counts failed or undelivered; `in_flight` the rest (queued, sending,
  sent). `delivery_rate` = delivered / (delivered + failed): messages still in flight are excluded.
  `median_seconds_to_delivered` runs from when we queued the message (`queued_at`, else `created_at`) to the
  provider's delivered callback, over delivered messages. `failures_by_error_code` counts the failed messages by the
  provider's error code (`unknown` when none).
- otp: challenges created in the window. `approval_rate` = approved / issued. `abandoned` counts challenges that
  expired (or are pending past their expiry) with no code ever entered (zero attempts); `abandonment_rate` =
  abandoned / issued. Replaced (canceled) and failed challenges stay in `issued`. OTP measures belong to SMS: with
  `channel` call or whatsapp the section is null.
- webhooks: provider deliveries received in the window (for `channel`, that channel's provider). `failure_rate` =
  deliveries with status failed / all deliveries. Duplicates are not stored, so they do not count.
- daily: per day, interactions created, calls' average duration, SMS sent (outbound created) and delivered, SMS
  delivery rate, OTP sent (issued) and verified (approved) and their ratio `otp_verified_ratio`, webhook deliveries
  and failures and their rate. A day with nothing has zeros and null ratios.

Every rate is null when its denominator is zero. Percentiles are null on databases other than PostgreSQL.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    QuerySet,
    When,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from interactions.models import Channel, Direction, Interaction, Message, MessageStatus
from interactions.providers.registry import provider_for_channel
from otp.models import OtpChallenge, OtpStatus
from webhooks.models import EventStatus, InteractionEvent

DELIVERED = (MessageStatus.DELIVERED, MessageStatus.READ)
FAILED = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)


class PercentileCont(Aggregate):
    """PostgreSQL's `percentile_cont(p) WITHIN GROUP (ORDER BY expr)`: the interpolated percentile; NULLs ignored."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Combinable | str, percentile: float, **extra: Any) -> None:
        if not 0 <= percentile <= 1:
            raise ValueError("percentile must be between 0 and 1")
        super().__init__(expression, percentile=repr(float(percentile)), **extra)


@dataclass(frozen=True)
class MetricsWindow:
    date_from: date
    date_to: date
    channel: str | None = None

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.date_from, time.min))

    @property
    def end(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.date_to + timedelta(days=1), time.min))

    def days(self) -> list[date]:
        return [self.date_from + timedelta(days=n) for n in range((self.date_to - self.date_from).days + 1)]

    def wants(self, *channels: str) -> bool:
        return self.channel is None or self.channel in channels

    @property
    def message_channel(self) -> str:
        return Channel.WHATSAPP if self.channel == Channel.WHATSAPP else Channel.SMS


def _percentiles_supported() -> bool:
    return connection.vendor == "postgresql"


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _seconds(value: timedelta | float | Decimal | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return round(value.total_seconds(), 3)
    return round(float(value), 3)


def _provider_for(channel: str) -> str:
    """The ledger's name of the channel's provider (the events are stored under it)."""
    provider = provider_for_channel(channel)
    return provider.name if provider else ""


def _interactions(window: MetricsWindow) -> QuerySet[Interaction]:
    queryset = Interaction.objects.filter(created_at__gte=window.start, created_at__lt=window.end)
    if window.channel:
        queryset = queryset.filter(channel=window.channel)
    return queryset


def _outbound_messages(window: MetricsWindow, channel: str) -> QuerySet[Message]:
    return Message.objects.filter(
        channel=channel, direction=Direction.OUTBOUND, created_at__gte=window.start, created_at__lt=window.end
    )


def _otp_challenges(window: MetricsWindow) -> QuerySet[OtpChallenge]:
    return OtpChallenge.objects.filter(created_at__gte=window.start, created_at__lt=window.end)


def _webhook_events(window: MetricsWindow) -> QuerySet[InteractionEvent]:
    queryset = InteractionEvent.objects.filter(received_at__gte=window.start, received_at__lt=window.end)
    if window.channel:
        queryset = queryset.filter(provider=_provider_for(window.channel))
    return queryset


def _call_duration_aggregates(prefix: str = "") -> dict:
    duration = f"{prefix}call_detail__duration_seconds"
    aggregates = {"calls": Count("pk", filter=Q(**{f"{duration}__isnull": False})), "avg": Avg(duration)}
    if _percentiles_supported():
        aggregates["p90"] = PercentileCont(F(duration), 0.9, output_field=FloatField())
    return aggregates


def _time_to_delivered():
    started = Coalesce("queued_at", "created_at")
    return Case(
        When(
            status__in=DELIVERED,
            delivered_at__isnull=False,
            then=ExpressionWrapper(F("delivered_at") - started, output_field=DurationField()),
        ),
        output_field=DurationField(),
    )


def metrics_summary(*, window: MetricsWindow) -> dict:
    """The summary of the window (see the module docstring for the definitions). Six queries."""
    by_channel: dict[str, int] = {}
    by_status: dict[str, int] = {}
    pairs = []
    for pair in (
        _interactions(window).values("channel", "status").annotate(count=Count("pk")).order_by("channel", "status")
    ):
        by_channel[pair["channel"]] = by_channel.get(pair["channel"], 0) + pair["count"]
        by_status[pair["status"]] = by_status.get(pair["status"], 0) + pair["count"]
        pairs.append(pair)

    calls = None
    if window.wants(Channel.CALL):
        row = Interaction.objects.filter(
            channel=Channel.CALL, created_at__gte=window.start, created_at__lt=window.end
        ).aggregate(**_call_duration_aggregates())
        calls = {
            "count": row["calls"],
            "avg_duration_seconds": _seconds(row["avg"]),
            "p90_duration_seconds": _seconds(row.get("p90")),
        }

    messages = None
    if window.wants(Channel.SMS, Channel.WHATSAPP):
        outbound = _outbound_messages(window, window.message_channel)
        aggregates: dict[str, Aggregate] = {
            "outbound": Count("pk"),
            "delivered": Count("pk", filter=Q(status__in=DELIVERED)),
            "failed": Count("pk", filter=Q(status__in=FAILED)),
        }
        if _percentiles_supported():
            aggregates["median"] = PercentileCont(_time_to_delivered(), 0.5, output_field=DurationField())
        row = outbound.aggregate(**aggregates)
        failures = (
            outbound.filter(status__in=FAILED)
            .values("error_code")
            .annotate(count=Count("pk"))
            .order_by("-count", "error_code")
        )
        messages = {
            "channel": window.message_channel,
            "outbound": row["outbound"],
            "delivered": row["delivered"],
            "failed": row["failed"],
            "in_flight": row["outbound"] - row["delivered"] - row["failed"],
            "delivery_rate": _rate(row["delivered"], row["delivered"] + row["failed"]),
            "median_seconds_to_delivered": _seconds(row.get("median")),
            "failures_by_error_code": [
                {"error_code": failure["error_code"] or "unknown", "count": failure["count"]} for failure in failures
            ],
        }

    otp = None
    if window.wants(Channel.SMS):
        now = timezone.now()
        expired = Q(status=OtpStatus.EXPIRED) | Q(status=OtpStatus.PENDING, expires_at__lt=now)
        row = _otp_challenges(window).aggregate(
            issued=Count("pk"),
            approved=Count("pk", filter=Q(status=OtpStatus.APPROVED)),
            abandoned=Count("pk", filter=expired & Q(attempts=0)),
            **{f"status_{status}": Count("pk", filter=Q(status=status)) for status in OtpStatus.values},
        )
        otp = {
            "issued": row["issued"],
            "approved": row["approved"],
            "abandoned": row["abandoned"],
            "approval_rate": _rate(row["approved"], row["issued"]),
            "abandonment_rate": _rate(row["abandoned"], row["issued"]),
            "by_status": {status: row[f"status_{status}"] for status in OtpStatus.values},
        }

    row = _webhook_events(window).aggregate(total=Count("pk"), failed=Count("pk", filter=Q(status=EventStatus.FAILED)))
    webhooks = {"total": row["total"], "failed": row["failed"], "failure_rate": _rate(row["failed"], row["total"])}

    return {
        "date_from": window.date_from,
        "date_to": window.date_to,
        "channel": window.channel,
        "interactions": {
            "total": sum(by_channel.values()),
            "by_channel": by_channel,
            "by_status": by_status,
            "by_channel_and_status": pairs,
        },
        "calls": calls,
        "messages": messages,
        "otp": otp,
        "webhooks": webhooks,
    }


def _per_day(queryset: QuerySet, field: str, **aggregates: Aggregate) -> dict[date, dict]:
    day = TruncDate(field, tzinfo=timezone.get_current_timezone())
    rows = queryset.annotate(day=day).values("day").annotate(**aggregates).order_by("day")
    return {row["day"]: row for row in rows}


def metrics_daily(*, window: MetricsWindow) -> list[dict]:
    """One row per day of the window (see the module docstring). Five queries, whatever the number of days."""
    interactions = _per_day(_interactions(window), "created_at", count=Count("pk"))
    calls = (
        _per_day(
            Interaction.objects.filter(channel=Channel.CALL, created_at__gte=window.start, created_at__lt=window.end),
            "created_at",
            avg=Avg("call_detail__duration_seconds"),
        )
        if window.wants(Channel.CALL)
        else {}
    )
    wants_sms = window.wants(Channel.SMS)
    sms = (
        _per_day(
            _outbound_messages(window, Channel.SMS),
            "created_at",
            sent=Count("pk"),
            delivered=Count("pk", filter=Q(status__in=DELIVERED)),
            failed=Count("pk", filter=Q(status__in=FAILED)),
        )
        if wants_sms
        else {}
    )
    otp = (
        _per_day(
            _otp_challenges(window),
            "created_at",
            sent=Count("pk"),
            verified=Count("pk", filter=Q(status=OtpStatus.APPROVED)),
        )
        if wants_sms
        else {}
    )
    events = _per_day(
        _webhook_events(window),
        "received_at",
        total=Count("pk"),
        failed=Count("pk", filter=Q(status=EventStatus.FAILED)),
    )
    series = []
    for day in window.days():
        s, o, e = sms.get(day, {}), otp.get(day, {}), events.get(day, {})
        sms_delivered, sms_failed = s.get("delivered", 0), s.get("failed", 0)
        series.append(
            {
                "date": day,
                "interactions": interactions.get(day, {}).get("count", 0),
                "calls_avg_duration_seconds": _seconds(calls.get(day, {}).get("avg")),
                "sms_sent": s.get("sent", 0),
                "sms_delivered": sms_delivered,
                "sms_failed": sms_failed,
                "sms_delivery_rate": _rate(sms_delivered, sms_delivered + sms_failed),
                "otp_sent": o.get("sent", 0),
                "otp_verified": o.get("verified", 0),
                "otp_verified_ratio": _rate(o.get("verified", 0), o.get("sent", 0)),
                "webhook_events": e.get("total", 0),
                "webhook_failed": e.get("failed", 0),
                "webhook_failure_rate": _rate(e.get("failed", 0), e.get("total", 0)),
            }
        )
    return series
