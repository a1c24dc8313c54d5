"""The metrics. On PostgreSQL they are read from the roll-up (metrics/rollup_sql.py: counts per day kept exact by
triggers, a few hundred rows per day whatever the traffic); elsewhere, or when the roll-up counts days in another zone,
they are counted from the rows (`metrics_summary_recount`, `metrics_daily_recount`: the reference the roll-up is
tested against). The numbers are the same either way. Definitions (also in docs/api.md, "Metrics"):

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

import math
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

from . import rollup_sql
from .models import RollupKind

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


def metrics_summary_recount(*, window: MetricsWindow) -> dict:
    """The summary of the window counted from the rows themselves (see the module docstring for the definitions).
    Six queries over every row of the window: the reference the roll-up is checked against, and the way on
    databases without it."""
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

    return _summary(
        window=window,
        by_channel=by_channel,
        by_status=by_status,
        pairs=pairs,
        calls=calls,
        messages=messages,
        otp=otp,
        webhooks=webhooks,
    )


def _summary(
    *,
    window: MetricsWindow,
    by_channel: dict[str, int],
    by_status: dict[str, int],
    pairs: list,
    calls: dict | None,
    messages: dict | None,
    otp: dict | None,
    webhooks: dict,
) -> dict:
    """The summary's shape (the API's), whichever way its numbers were counted."""
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


def metrics_daily_recount(*, window: MetricsWindow) -> list[dict]:
    """One row per day of the window (see the module docstring), counted from the rows themselves. Five queries over
    every row of the window, whatever the number of days."""
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


# --- The roll-up ------------------------------------------------------------------------------------------------
# The same numbers from metrics_metricscount + metrics_metricsdelta (see metrics/rollup_sql.py): a few hundred rows
# per day whatever the traffic, instead of every row of the window. Exact: the triggers count every change of every
# counted row, whatever the writer; the percentiles are taken over histograms of the exact values (call durations
# are whole seconds, times to delivered whole microseconds, the resolution of the columns), with PostgreSQL's own
# percentile_cont arithmetic (see _percentile_cont).


def metrics_rollup_supported() -> bool:
    return connection.vendor == "postgresql"


def metrics_rollup_zone() -> str | None:
    """The time zone the roll-up counts days in, or None when it is off (not built, or not PostgreSQL)."""
    if not metrics_rollup_supported():
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT metrics_rollup_zone()")
        return cursor.fetchone()[0]


def metrics_rollup_usable() -> bool:
    """The roll-up is built and counts days in the zone the caller counts in (TIME_ZONE changed since the build: no,
    until `manage.py metrics_rollup --build`)."""
    zone = metrics_rollup_zone()
    return zone is not None and zone == timezone.get_current_timezone_name()


def _rollup_source(
    kind: str,
    *,
    first_day: date | None = None,
    last_day: date | None = None,
    d1: str | list[str] | None = None,
    d2: str | list[str] | None = None,
) -> tuple[str, list[Any]]:
    """The counted rows of one kind (folded counts and pending deltas), as a subquery `x(day, d1, d2, d3, value, n)`
    and its parameters. d1 and d2 narrow to a value or a list of values."""
    conditions: list[str] = ["kind = %s"]
    params: list[Any] = [kind]
    for condition, wanted in (("day >= %s", first_day), ("day <= %s", last_day), ("d1", d1), ("d2", d2)):
        if wanted is None:
            continue
        if condition in ("d1", "d2"):
            conditions.append(f"{condition} = ANY(%s)" if isinstance(wanted, list) else f"{condition} = %s")
        else:
            conditions.append(condition)
        params.append(wanted)
    where = " AND ".join(conditions)
    columns = "day, d1, d2, d3, value, n"
    sql = (
        f"(SELECT {columns} FROM {rollup_sql.COUNT} WHERE {where} "  # noqa: S608
        f"UNION ALL SELECT {columns} FROM {rollup_sql.DELTA} WHERE {where}) x"
    )
    return sql, params + params


def _fetch(sql: str, params: list | dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def rollup_counts(
    *,
    kind: str,
    group_by: tuple[str, ...],
    first_day: date | None = None,
    last_day: date | None = None,
    d1: str | list[str] | None = None,
    d2: str | list[str] | None = None,
) -> dict[tuple, int]:
    """Counted rows of one kind per key (`group_by` among day, d1, d2, d3, value), keys with nothing left out.
    See metrics/rollup_sql.py for what d1..d3 hold per kind. Only when metrics_rollup_usable()."""
    source, params = _rollup_source(kind, first_day=first_day, last_day=last_day, d1=d1, d2=d2)
    columns = ", ".join(group_by)
    rows = _fetch(f"SELECT {columns}, sum(n) FROM {source} GROUP BY {columns} HAVING sum(n) <> 0", params)  # noqa: S608
    return {tuple(row[:-1]): int(row[-1]) for row in rows}


@dataclass(frozen=True)
class _Histogram:
    count: int
    mean: Decimal | None  # sum / count, PostgreSQL numeric division (what avg() returns)
    lower: int | None  # the values at the two ranks percentile_cont interpolates between
    upper: int | None


def _histogram(kind: str, window: MetricsWindow, percentile: float, d1: str | None = None) -> _Histogram:
    """Count, mean and the two values around a percentile of a histogram kind (call, delivery) over the window."""
    source, params = _rollup_source(kind, first_day=window.date_from, last_day=window.date_to, d1=d1)
    sql = f"""
        WITH h AS (SELECT value, sum(n) AS n FROM {source} GROUP BY value HAVING sum(n) <> 0),
        t AS (SELECT coalesce(sum(n), 0) AS total, sum(value * n) AS total_value FROM h),
        c AS (SELECT value, sum(n) OVER (ORDER BY value) AS cumulative FROM h)
        SELECT t.total, t.total_value / nullif(t.total, 0),
            (SELECT min(value) FROM c WHERE cumulative > floor(%s::float8 * (t.total - 1)::float8)),
            (SELECT min(value) FROM c WHERE cumulative > ceil(%s::float8 * (t.total - 1)::float8))
        FROM t"""  # noqa: S608
    ((total, mean, lower, upper),) = _fetch(sql, [*params, percentile, percentile])
    return _Histogram(int(total), mean, lower, upper)


def _percentile_cont(histogram: _Histogram, percentile: float) -> float | None:
    """PostgreSQL's percentile_cont over float8 (src/backend/utils/adt/orderedsetaggs.c), step by step in the same
    double arithmetic: rows floor and ceil of p * (n - 1) (0-based), then lo + (p * (n - 1) - first) * (hi - lo)."""
    if not histogram.count or histogram.lower is None or histogram.upper is None:
        return None
    position = percentile * (histogram.count - 1)
    first = math.floor(position)
    if math.ceil(position) == first:
        return float(histogram.lower)
    low, high = float(histogram.lower), float(histogram.upper)
    return low + ((position - first) * (high - low))


def _median_interval(histogram: _Histogram) -> timedelta | None:
    """percentile_cont(0.5) over intervals of whole microseconds: the middle value, or for an even count
    lo + (hi - lo) * 0.5 with the half microsecond rounded to even (interval_mul's rint)."""
    if not histogram.count or histogram.lower is None or histogram.upper is None:
        return None
    if histogram.count % 2 == 1:
        return timedelta(microseconds=histogram.lower)
    return timedelta(microseconds=histogram.lower + round((histogram.upper - histogram.lower) / 2))


def _metrics_summary_rollup(*, window: MetricsWindow) -> dict:
    first_day, last_day = window.date_from, window.date_to
    source, params = _rollup_source(RollupKind.INTERACTION, first_day=first_day, last_day=last_day, d1=window.channel)
    pairs = [
        {"channel": row_channel, "status": status, "count": int(count)}
        for row_channel, status, count in _fetch(
            f"SELECT d1, d2, sum(n) FROM {source} GROUP BY d1, d2 HAVING sum(n) <> 0 ORDER BY d1, d2",  # noqa: S608
            params,
        )
    ]
    by_channel: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for pair in pairs:
        by_channel[pair["channel"]] = by_channel.get(pair["channel"], 0) + pair["count"]
        by_status[pair["status"]] = by_status.get(pair["status"], 0) + pair["count"]

    calls = None
    if window.wants(Channel.CALL):
        durations = _histogram(RollupKind.CALL, window, 0.9)
        calls = {
            "count": durations.count,
            "avg_duration_seconds": _seconds(durations.mean),
            "p90_duration_seconds": _seconds(_percentile_cont(durations, 0.9)),
        }

    messages = None
    if window.wants(Channel.SMS, Channel.WHATSAPP):
        message_channel = window.message_channel
        by_message_status = {
            key[0]: count
            for key, count in rollup_counts(
                kind=RollupKind.MESSAGE, group_by=("d2",), first_day=first_day, last_day=last_day, d1=message_channel
            ).items()
        }
        outbound = sum(by_message_status.values())
        delivered = sum(by_message_status.get(status, 0) for status in DELIVERED)
        failed = sum(by_message_status.get(status, 0) for status in FAILED)
        source, params = _rollup_source(
            RollupKind.MESSAGE, first_day=first_day, last_day=last_day, d1=message_channel, d2=list(FAILED)
        )
        failures = _fetch(
            f"SELECT d3, sum(n) FROM {source} GROUP BY d3 HAVING sum(n) <> 0 ORDER BY sum(n) DESC, d3",  # noqa: S608
            params,
        )
        messages = {
            "channel": message_channel,
            "outbound": outbound,
            "delivered": delivered,
            "failed": failed,
            "in_flight": outbound - delivered - failed,
            "delivery_rate": _rate(delivered, delivered + failed),
            "median_seconds_to_delivered": _seconds(
                _median_interval(_histogram(RollupKind.DELIVERY, window, 0.5, d1=message_channel))
            ),
            "failures_by_error_code": [
                {"error_code": error_code or "unknown", "count": int(count)} for error_code, count in failures
            ],
        }

    otp = None
    if window.wants(Channel.SMS):
        challenges = rollup_counts(kind=RollupKind.OTP, group_by=("d1", "d2"), first_day=first_day, last_day=last_day)
        by_otp_status = {status: 0 for status in OtpStatus.values}
        for (status, _attempted), count in challenges.items():
            by_otp_status[status] = by_otp_status.get(status, 0) + count
        issued = sum(by_otp_status.values())
        # Pending past expiry depends on now: those few are counted live (index otp_status_expiry_idx).
        pending_abandoned = _otp_challenges(window).filter(
            status=OtpStatus.PENDING, attempts=0, expires_at__lt=timezone.now()
        )
        abandoned = challenges.get((OtpStatus.EXPIRED, "0"), 0) + pending_abandoned.count()
        approved = by_otp_status[OtpStatus.APPROVED]
        otp = {
            "issued": issued,
            "approved": approved,
            "abandoned": abandoned,
            "approval_rate": _rate(approved, issued),
            "abandonment_rate": _rate(abandoned, issued),
            "by_status": {status: by_otp_status[status] for status in OtpStatus.values},
        }

    provider = _provider_for(window.channel) if window.channel else None
    events = rollup_counts(
        kind=RollupKind.WEBHOOK, group_by=("d2",), first_day=first_day, last_day=last_day, d1=provider
    )
    total = sum(events.values())
    failed_events = events.get((EventStatus.FAILED,), 0)
    webhooks = {"total": total, "failed": failed_events, "failure_rate": _rate(failed_events, total)}

    return _summary(
        window=window,
        by_channel=by_channel,
        by_status=by_status,
        pairs=pairs,
        calls=calls,
        messages=messages,
        otp=otp,
        webhooks=webhooks,
    )


def _per_day_rollup(kind: str, window: MetricsWindow, aggregates: str, d1: str | None = None) -> dict[date, tuple]:
    source, params = _rollup_source(kind, first_day=window.date_from, last_day=window.date_to, d1=d1)
    rows = _fetch(f"SELECT day, {aggregates} FROM {source} GROUP BY day", params)  # noqa: S608
    return {row[0]: row[1:] for row in rows}


def _in(statuses: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + str(status) + "'" for status in statuses) + ")"


def _metrics_daily_rollup(*, window: MetricsWindow) -> list[dict]:
    interactions = _per_day_rollup(RollupKind.INTERACTION, window, "sum(n)", d1=window.channel)
    calls = (
        _per_day_rollup(RollupKind.CALL, window, "sum(value * n) / nullif(sum(n), 0)")
        if window.wants(Channel.CALL)
        else {}
    )
    wants_sms = window.wants(Channel.SMS)
    sms = (
        _per_day_rollup(
            RollupKind.MESSAGE,
            window,
            f"sum(n), coalesce(sum(n) FILTER (WHERE d2 IN {_in(DELIVERED)}), 0), "
            f"coalesce(sum(n) FILTER (WHERE d2 IN {_in(FAILED)}), 0)",
            d1=Channel.SMS,
        )
        if wants_sms
        else {}
    )
    otp = (
        _per_day_rollup(
            RollupKind.OTP, window, f"sum(n), coalesce(sum(n) FILTER (WHERE d1 = '{OtpStatus.APPROVED}'), 0)"
        )
        if wants_sms
        else {}
    )
    events = _per_day_rollup(
        RollupKind.WEBHOOK,
        window,
        f"sum(n), coalesce(sum(n) FILTER (WHERE d2 = '{EventStatus.FAILED}'), 0)",
        d1=_provider_for(window.channel) if window.channel else None,
    )
    series = []
    for day in window.days():
        sent, sms_delivered, sms_failed = (int(v) for v in sms.get(day, (0, 0, 0)))
        otp_sent, otp_verified = (int(v) for v in otp.get(day, (0, 0)))
        event_total, event_failed = (int(v) for v in events.get(day, (0, 0)))
        series.append(
            {
                "date": day,
                "interactions": int(interactions.get(day, (0,))[0]),
                "calls_avg_duration_seconds": _seconds(calls.get(day, (None,))[0]),
                "sms_sent": sent,
                "sms_delivered": sms_delivered,
                "sms_failed": sms_failed,
                "sms_delivery_rate": _rate(sms_delivered, sms_delivered + sms_failed),
                "otp_sent": otp_sent,
                "otp_verified": otp_verified,
                "otp_verified_ratio": _rate(otp_verified, otp_sent),
                "webhook_events": event_total,
                "webhook_failed": event_failed,
                "webhook_failure_rate": _rate(event_failed, event_total),
            }
        )
    return series


def metrics_summary(*, window: MetricsWindow) -> dict:
    """The summary of the window (see the module docstring for the definitions): from the roll-up when it is usable
    (about ten small queries, a few hundred rows per day of the window), else counted live."""
    if metrics_rollup_usable():
        return _metrics_summary_rollup(window=window)
    return metrics_summary_recount(window=window)


def metrics_daily(*, window: MetricsWindow) -> list[dict]:
    """One row per day of the window (see the module docstring): from the roll-up when usable, else counted live."""
    if metrics_rollup_usable():
        return _metrics_daily_rollup(window=window)
    return metrics_daily_recount(window=window)


def metrics_rollup_differences(*, limit: int = 100) -> list[tuple]:
    """Where the roll-up and a fresh count of every row disagree: (kind, day, d1, d2, d3, value, fresh, kept).
    Empty when it is exact. Reads every counted row (seconds at a million interactions): for tests and operators."""
    zone = metrics_rollup_zone()
    if zone is None:
        return []
    return _fetch(rollup_sql.check_sql(), {"zone": zone, "limit": limit})
