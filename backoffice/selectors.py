"""Reads of the back office: the timeline of one interaction and the dashboard's numbers."""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.models import AuditLog
from contactcenter.common.masking import phones_mask
from contactcenter.common.pii import phone_mask
from interactions.models import CallDetail, Direction, Interaction, Message, MessageStatus
from metrics.models import RollupKind
from metrics.selectors import metrics_rollup_usable, rollup_counts
from otp.models import OtpChallenge, OtpStatus
from webhooks.models import EventStatus, InteractionEvent

TIMELINE_LIMIT = 300
SENSITIVE_PLACEHOLDER = gettext_lazy("•••• (hidden: one-time code)")


def pretty_json(value: object) -> str:
    """Raw payloads for people: indented, keys sorted, every phone number in them masked (by key and by content, see
    contactcenter.common.masking); dates, timestamps and ids as they are."""
    if value in (None, "", {}, []):
        return ""
    return json.dumps(phones_mask(_jsonable(value)), indent=2, sort_keys=True, ensure_ascii=False)


def _jsonable(value):
    """The value as JSON would carry it (dates and decimals as text), so that masking sees what people will see."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


@dataclass
class TimelineItem:
    at: datetime | None
    kind: str  # event | message | call | otp | audit
    title: str
    detail: str = ""
    status: str = ""
    direction: str = ""
    body: str = ""
    payload: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Timeline:
    items: list[TimelineItem]
    messages: list[Message]
    call: CallDetail | None
    transcript: list[dict]
    truncated: bool


def message_body_for_display(message: Message) -> str:
    """A one-time code never shows; phone numbers a customer typed into a message are masked like any other."""
    return str(SENSITIVE_PLACEHOLDER) if message.is_sensitive else phones_mask(message.body)


def interaction_timeline(*, interaction: Interaction) -> Timeline:
    """Everything that happened to one interaction, oldest first, each source bounded (a few queries in all)."""
    items: list[TimelineItem] = []
    truncated = False

    events = list(
        InteractionEvent.objects.filter(interaction=interaction).order_by("received_at", "id")[: TIMELINE_LIMIT + 1]
    )
    truncated |= len(events) > TIMELINE_LIMIT
    for event in events[:TIMELINE_LIMIT]:
        items.append(
            TimelineItem(
                at=event.received_at,
                kind="event",
                title=f"{event.provider} · {event.event_type or _('event')}",
                status=event.status,
                detail=phones_mask(event.error),
                payload=pretty_json(event.payload),
                extra={"id": event.id, "attempts": event.attempts},
            )
        )

    messages = list(Message.objects.filter(interaction=interaction).order_by("created_at", "id")[: TIMELINE_LIMIT + 1])
    truncated |= len(messages) > TIMELINE_LIMIT
    messages = messages[:TIMELINE_LIMIT]
    for message in messages:
        display_body = message_body_for_display(message)
        # What the timeline's template shows beside the message's own fields.
        message.display_body = display_body  # type: ignore[attr-defined]
        message.masked_to = phone_mask(message.to_phone)  # type: ignore[attr-defined]
        message.masked_from = phone_mask(message.from_phone)  # type: ignore[attr-defined]
        items.append(
            TimelineItem(
                at=message.received_at or message.queued_at or message.created_at,
                kind="message",
                title=_("%(channel)s message") % {"channel": message.get_channel_display()},
                status=message.status,
                direction=message.direction,
                body=display_body,
                detail=phones_mask(" ".join(filter(None, [message.error_code, message.error_message]))),
                extra={"id": message.id, "provider_message_id": message.provider_message_id or ""},
            )
        )

    call = CallDetail.objects.filter(interaction=interaction).first()
    transcript: list[dict] = []
    if call is not None:
        call.display_summary = phones_mask(call.summary)  # type: ignore[attr-defined]  # for the template
        for turn in call.transcript if isinstance(call.transcript, list) else []:
            if isinstance(turn, dict):
                transcript.append(
                    {
                        "role": str(turn.get("role", "")),
                        "text": phones_mask(str(turn.get("message") or turn.get("text") or "")),
                        "seconds": turn.get("time_in_call_secs"),
                    }
                )
        items.append(
            TimelineItem(
                at=call.started_at or interaction.started_at,
                kind="call",
                title=_("Call %(status)s") % {"status": call.conversation_status or ""},
                status=call.call_successful,
                detail=phones_mask(call.end_reason or call.failure_reason),
                body=phones_mask(call.summary),
                extra={"duration": call.duration_seconds},
            )
        )

    otp_filter = Q(interaction=interaction)
    if call is not None and call.conversation_id:
        otp_filter |= Q(conversation_id=call.conversation_id)
    challenges = list(
        OtpChallenge.objects.filter(otp_filter).select_related("message").order_by("created_at")[:TIMELINE_LIMIT]
    )
    for challenge in challenges:
        delivery = challenge.message.status if challenge.message else ""
        items.append(
            TimelineItem(
                at=challenge.created_at,
                kind="otp",
                title=_("OTP challenge · %(purpose)s") % {"purpose": challenge.purpose},
                status=challenge.status,
                detail=_("%(attempts)s wrong attempts; SMS %(delivery)s")
                % {"attempts": challenge.attempts, "delivery": delivery or "-"},
                extra={"id": challenge.id, "phone": phone_mask(challenge.phone)},
            )
        )

    audit_filter = Q(target_type="interaction", target_id=str(interaction.id))
    if messages:
        audit_filter |= Q(target_type="message", target_id__in=[str(m.id) for m in messages])
    if challenges:
        audit_filter |= Q(target_type__in=["otp_challenge", "otp"], target_id__in=[str(c.id) for c in challenges])
    audits = list(AuditLog.objects.filter(audit_filter).order_by("created_at", "id")[:TIMELINE_LIMIT])
    for record in audits:
        items.append(
            TimelineItem(
                at=record.created_at,
                kind="audit",
                title=record.action,
                detail=f"{record.actor_label or record.actor_type}"
                + (f" · {record.ip_address}" if record.ip_address else ""),
                payload=pretty_json(record.data),
                extra={"id": record.id},
            )
        )

    epoch = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    items.sort(key=lambda item: item.at or epoch)
    return Timeline(items=items, messages=messages, call=call, transcript=transcript, truncated=truncated)


# --- Dashboard ---------------------------------------------------------------------------------------------------

STUCK_AFTER = timedelta(minutes=15)


@dataclass
class DashboardData:
    days: list
    per_channel_per_day: dict  # channel -> [count per day]
    sms_funnel: list  # [(step, count)]: queued, sent, delivered, failed
    otp_total: int
    otp_approved: int
    otp_per_day: list  # [(day, approved, total)]
    webhook_failures_per_day: list  # [(day, failed)]
    failed_events: int
    stuck_messages: int
    failed_otp_deliveries: int
    stuck_before: datetime


def _dashboard_days(days: int, now: datetime) -> tuple[date, datetime, list[date]]:
    today = timezone.localdate(now)
    first_day = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first_day, datetime.min.time()))
    return first_day, since, [first_day + timedelta(days=i) for i in range(days)]


def _sms_funnel(sms_counts: dict[str, int]) -> list[tuple[str, int]]:
    reached_sent = sum(sms_counts.get(s, 0) for s in ("sent", "delivered", "read", "undelivered"))
    delivered = sum(sms_counts.get(s, 0) for s in ("delivered", "read"))
    failed = sms_counts.get("failed", 0) + sms_counts.get("undelivered", 0)
    return [
        ("queued", sum(sms_counts.values())),
        ("sent", reached_sent),
        ("delivered", delivered),
        ("failed", failed),
    ]


def _stuck_messages(stuck_before: datetime) -> int:
    """Live, whatever the roll-up: it depends on now (index message_status_idx; few rows are queued or sending)."""
    return Message.objects.filter(
        status__in=[MessageStatus.QUEUED, MessageStatus.SENDING], updated_at__lt=stuck_before
    ).count()


def dashboard_data(*, days: int = 14, now: datetime | None = None) -> DashboardData:
    """Numbers for the dashboard over the last `days` days, from the metrics roll-up when it is usable (a few small
    queries whatever the traffic), else counted live (`dashboard_data_recount`). The same numbers either way."""
    if not metrics_rollup_usable():
        return dashboard_data_recount(days=days, now=now)
    now = now or timezone.now()
    first_day, _since, day_list = _dashboard_days(days, now)
    index = {day: i for i, day in enumerate(day_list)}

    per_channel: dict[str, list[int]] = {}
    for (day, channel), count in rollup_counts(
        kind=RollupKind.INTERACTION, group_by=("day", "d1"), first_day=first_day
    ).items():
        series = per_channel.setdefault(channel, [0] * days)
        if day in index:
            series[index[day]] += count

    sms_counts = {
        status: count
        for (status,), count in rollup_counts(
            kind=RollupKind.MESSAGE, group_by=("d2",), first_day=first_day, d1="sms"
        ).items()
    }

    otp_by_day: dict[date, list[int]] = {}
    failed_otp_deliveries = 0
    for (day, status), count in rollup_counts(kind=RollupKind.OTP, group_by=("day", "d1")).items():
        if status == OtpStatus.FAILED:
            failed_otp_deliveries += count
        if day >= first_day:
            counts = otp_by_day.setdefault(day, [0, 0])
            counts[1] += count
            if status == OtpStatus.APPROVED:
                counts[0] += count
    otp_per_day = [(day, *otp_by_day.get(day, (0, 0))) for day in day_list]

    failures_by_day: dict[date, int] = {}
    failed_events = 0
    for (day,), count in rollup_counts(kind=RollupKind.WEBHOOK, group_by=("day",), d2=EventStatus.FAILED).items():
        failed_events += count
        if day >= first_day:
            failures_by_day[day] = count

    return _dashboard_data(
        now=now,
        day_list=day_list,
        per_channel=per_channel,
        sms_counts=sms_counts,
        otp_per_day=otp_per_day,
        failures_by_day=failures_by_day,
        failed_events=failed_events,
        failed_otp_deliveries=failed_otp_deliveries,
    )


def dashboard_data_recount(*, days: int = 14, now: datetime | None = None) -> DashboardData:
    """The dashboard's numbers counted from the rows themselves: each one grouped query over an indexed time range
    (the reference the roll-up is checked against, and the way on databases without it)."""
    now = now or timezone.now()
    _first_day, since, day_list = _dashboard_days(days, now)

    per_channel: dict[str, list[int]] = {}
    rows = (
        Interaction.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "channel")
        .annotate(n=Count("id"))
        .order_by()
    )
    index = {day: i for i, day in enumerate(day_list)}
    for row in rows:
        series = per_channel.setdefault(row["channel"], [0] * days)
        if row["day"] in index:
            series[index[row["day"]]] += row["n"]

    sms_counts = dict(
        Message.objects.filter(created_at__gte=since, channel="sms", direction=Direction.OUTBOUND)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("status", "n")
    )
    otp_rows = (
        OtpChallenge.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(total=Count("id"), approved=Count("id", filter=Q(status=OtpStatus.APPROVED)))
        .order_by()
    )
    otp_by_day = {row["day"]: (row["approved"], row["total"]) for row in otp_rows}
    otp_per_day = [(day, *otp_by_day.get(day, (0, 0))) for day in day_list]

    event_rows = (
        InteractionEvent.objects.filter(received_at__gte=since, status=EventStatus.FAILED)
        .annotate(day=TruncDate("received_at"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    failures_by_day = {row["day"]: row["n"] for row in event_rows}

    return _dashboard_data(
        now=now,
        day_list=day_list,
        per_channel=per_channel,
        sms_counts=sms_counts,
        otp_per_day=otp_per_day,
        failures_by_day=failures_by_day,
        failed_events=InteractionEvent.objects.filter(status=EventStatus.FAILED).count(),
        failed_otp_deliveries=OtpChallenge.objects.filter(status=OtpStatus.FAILED).count(),
    )


def _dashboard_data(
    *,
    now: datetime,
    day_list: list[date],
    per_channel: dict[str, list[int]],
    sms_counts: dict,
    otp_per_day: list[tuple],
    failures_by_day: dict[date, int],
    failed_events: int,
    failed_otp_deliveries: int,
) -> DashboardData:
    """The dashboard from its counts, however they were counted (the roll-up or the rows)."""
    stuck_before = now - STUCK_AFTER
    return DashboardData(
        days=day_list,
        per_channel_per_day=per_channel,
        sms_funnel=_sms_funnel(sms_counts),
        otp_total=sum(total for _day, _approved, total in otp_per_day),
        otp_approved=sum(approved for _day, approved, _total in otp_per_day),
        otp_per_day=otp_per_day,
        webhook_failures_per_day=[(day, failures_by_day.get(day, 0)) for day in day_list],
        failed_events=failed_events,
        stuck_messages=_stuck_messages(stuck_before),
        failed_otp_deliveries=failed_otp_deliveries,
        stuck_before=stuck_before,
    )
