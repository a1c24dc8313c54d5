"""The metrics roll-up against a full recount: random changes through the services, bulk updates, deletes and the
fold task, over several days, channels and statuses and two time zones; after them the summary, the daily series
and the admin dashboard from the roll-up must equal the same numbers counted from the rows (the old selectors)."""

import json
import random
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from freezegun import freeze_time

from backoffice.selectors import dashboard_data, dashboard_data_recount
from contactcenter.common.actors import Actor
from interactions.models import (
    CallDetail,
    Channel,
    Interaction,
    InteractionStatus,
    Message,
    MessageStatus,
)
from interactions.services.messages import message_status_apply
from metrics.api.serializers import MetricsSummarySerializer
from metrics.models import MetricsCount, MetricsDelta, RollupKind
from metrics.selectors import (
    MetricsWindow,
    metrics_daily,
    metrics_daily_recount,
    metrics_rollup_differences,
    metrics_rollup_usable,
    metrics_summary,
    metrics_summary_recount,
)
from metrics.services import metrics_rollup_build, metrics_rollup_fold
from metrics.tasks import metrics_rollup_fold_task
from otp.models import OtpChallenge, OtpStatus
from otp.services import otp_challenges_expire
from retention.services import customer_erase
from tests.api.helpers import role_client
from tests.factories import (
    CallDetailFactory,
    InteractionEventFactory,
    InteractionFactory,
    MessageFactory,
    OtpChallengeFactory,
)
from webhooks.models import EventStatus, InteractionEvent

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
FIRST = date(2026, 11, 6)
DAYS = 5
PROVIDER = {Channel.CALL: "elevenlabs", Channel.WHATSAPP: "builderbot", Channel.SMS: "twilio"}
ACTOR = Actor(type="system", id="test", label="test")


class Scenario:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.serial = 0

    def moment(self) -> datetime:
        """Any time of the five days, near midnight (UTC and Mexico City) more often than not."""
        day = datetime.combine(FIRST, datetime.min.time(), tzinfo=UTC) + timedelta(days=self.rng.randrange(DAYS))
        edge = self.rng.choice([0, 6 * 3600, 86400 - 1, self.rng.randrange(86400)])
        return day + timedelta(seconds=edge + self.rng.choice([-1, 0, 1]))

    def next(self) -> int:
        self.serial += 1
        return self.serial

    # --- creations ---------------------------------------------------------------------------------------------
    def interaction(self) -> None:
        channel = self.rng.choice(Channel.values)
        interaction = InteractionFactory(
            channel=channel,
            direction="inbound" if channel != Channel.SMS else "outbound",
            provider=PROVIDER[channel],
            status=self.rng.choice(InteractionStatus.values),
            created_at=self.moment(),
        )
        if channel == Channel.CALL and self.rng.random() < 0.8:
            duration = self.rng.choice([None, self.rng.randrange(1, 40), self.rng.randrange(1, 2000)])
            CallDetailFactory(interaction=interaction, duration_seconds=duration)
        if channel != Channel.CALL:
            for _ in range(self.rng.randrange(3)):
                self.message(interaction)

    def message(self, interaction: Interaction | None = None) -> None:
        interaction = interaction or Interaction.objects.exclude(channel=Channel.CALL).order_by("?").first()
        if interaction is None:
            return
        status = self.rng.choice(MessageStatus.values)
        created = self.moment()
        delivered = created + timedelta(microseconds=self.rng.randrange(1, 50_000_000))
        MessageFactory(
            interaction=interaction,
            channel=interaction.channel,
            direction=self.rng.choice(["outbound", "outbound", "inbound"]),
            status=status,
            queued_at=self.rng.choice([None, created, created + timedelta(milliseconds=self.rng.randrange(900))]),
            delivered_at=delivered if self.rng.random() < 0.8 else None,
            error_code=self.rng.choice(["", "30003", "30005", "30006"]),
            created_at=created,
        )

    def challenge(self) -> None:
        created = self.moment()
        OtpChallengeFactory(
            number=f"+52155{self.next():07d}",
            status=self.rng.choice(OtpStatus.values),
            attempts=self.rng.choice([0, 0, 1, 3]),
            expires_at=self.rng.choice([created + timedelta(minutes=5), NOW + timedelta(minutes=5)]),
            created_at=created,
        )

    def event(self) -> None:
        InteractionEventFactory(
            provider=self.rng.choice(list(PROVIDER.values())),
            idempotency_key=f"k{self.next()}",
            status=self.rng.choice(EventStatus.values),
            event_type="x",
            received_at=self.moment(),
        )

    # --- changes through the services --------------------------------------------------------------------------
    def status_callback(self) -> None:
        message = Message.objects.filter(direction="outbound").order_by("?").first()
        if message is not None:
            message_status_apply(
                message_id=message.pk,
                status=self.rng.choice([MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED]),
                at=message.created_at + timedelta(microseconds=self.rng.randrange(1, 9_000_000)),
                error_code=self.rng.choice(["", "30008"]),
            )

    def otp_expire(self) -> None:
        otp_challenges_expire(now=self.rng.choice([NOW, NOW + timedelta(minutes=10)]))

    def erase(self) -> None:
        """The erasure closes a pending challenge of the number (a status change)."""
        phone = OtpChallenge.objects.exclude(phone__contains="*").order_by("?").values_list("phone", flat=True).first()
        if phone:
            customer_erase(phone=phone, reason="test", actor=ACTOR)

    # --- bulk updates and deletes, as retention, admin actions and scripts do them --------------------------------
    def _some(self, model):
        ids = list(model.objects.order_by("?").values_list("pk", flat=True)[: self.rng.randrange(1, 6)])
        return model.objects.filter(pk__in=ids)

    def bulk_interaction_status(self) -> None:
        self._some(Interaction).update(status=self.rng.choice(InteractionStatus.values))

    def bulk_message_fields(self) -> None:
        self._some(Message).update(
            status=self.rng.choice(MessageStatus.values), error_code=self.rng.choice(["", "30003", "21610"])
        )

    def bulk_delivered_at(self) -> None:
        for message in self._some(Message):
            Message.objects.filter(pk=message.pk).update(
                delivered_at=message.created_at + timedelta(microseconds=self.rng.randrange(-1000, 90_000_000))
            )

    def move_day(self) -> None:
        model = self.rng.choice([Interaction, Message, OtpChallenge])
        self._some(model).update(created_at=self.moment())

    def move_event(self) -> None:
        self._some(InteractionEvent).update(received_at=self.moment(), status=self.rng.choice(EventStatus.values))

    def channel_change(self) -> None:
        self._some(Interaction).update(channel=self.rng.choice(Channel.values))

    def duration(self) -> None:
        self._some(CallDetail).update(duration_seconds=self.rng.choice([None, self.rng.randrange(1, 600)]))

    def attempts(self) -> None:
        self._some(OtpChallenge).filter(status=OtpStatus.PENDING).update(attempts=self.rng.choice([0, 1, 2]))
        self._some(OtpChallenge).exclude(status=OtpStatus.PENDING).update(
            status=self.rng.choice([s for s in OtpStatus.values if s != OtpStatus.PENDING])
        )

    def delete(self) -> None:
        model = self.rng.choice([Interaction, Interaction, Message, CallDetail, OtpChallenge, InteractionEvent])
        self._some(model).delete()  # interactions take their messages and call detail along (the collector)

    def fold(self) -> None:
        metrics_rollup_fold_task()

    def run(self, steps: int) -> None:
        for _ in range(25):
            self.interaction()
        for _ in range(10):
            self.challenge()
            self.event()
        actions = [
            self.interaction,
            self.message,
            self.challenge,
            self.event,
            self.status_callback,
            self.otp_expire,
            self.erase,
            self.bulk_interaction_status,
            self.bulk_message_fields,
            self.bulk_delivered_at,
            self.move_day,
            self.move_event,
            self.channel_change,
            self.duration,
            self.attempts,
            self.delete,
            self.fold,
        ]
        for _ in range(steps):
            self.rng.choice(actions)()


def _windows():
    days = [FIRST - timedelta(days=1) + timedelta(days=i) for i in range(DAYS + 2)]
    for channel in (None, *Channel.values):
        yield MetricsWindow(date_from=days[0], date_to=days[-1], channel=channel)
        for day in days:
            yield MetricsWindow(date_from=day, date_to=day, channel=channel)
        yield MetricsWindow(date_from=days[2], date_to=days[4], channel=channel)


def assert_rollup_equals_recount() -> int:
    assert metrics_rollup_differences() == []
    compared = 0
    for window in _windows():
        assert metrics_summary(window=window) == metrics_summary_recount(window=window), window
        assert metrics_daily(window=window) == metrics_daily_recount(window=window), window
        compared += 1
    for days in (1, 3, 14):
        assert dashboard_data(days=days, now=NOW) == dashboard_data_recount(days=days, now=NOW)
    return compared


@pytest.mark.parametrize("zone", ["UTC", "America/Mexico_City"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_rollup_equals_a_full_recount_after_random_changes(settings, zone, seed):
    settings.TIME_ZONE = zone
    metrics_rollup_build(zone=zone)
    assert metrics_rollup_usable()
    with freeze_time(NOW):
        Scenario(random.Random(seed)).run(steps=150)
        assert MetricsCount.objects.exists() or MetricsDelta.objects.exists()
        assert assert_rollup_equals_recount() > 0
        metrics_rollup_fold()
        assert not MetricsDelta.objects.exists()
        assert_rollup_equals_recount()
        # Through HTTP too: the endpoint's JSON is the recount's.
        window = MetricsWindow(date_from=FIRST, date_to=FIRST + timedelta(days=DAYS))
        query = {"date_from": window.date_from.isoformat(), "date_to": window.date_to.isoformat()}
        body = role_client("supervisor").get("/api/metrics/summary", query).json()
        assert body == json.loads(json.dumps(MetricsSummarySerializer(metrics_summary_recount(window=window)).data))


def test_the_comparison_fails_when_the_rollup_is_wrong(settings):
    """The oracle can fail: one count off, and the summary no longer equals the recount."""
    with freeze_time(NOW):
        Scenario(random.Random(7)).run(steps=20)
        assert_rollup_equals_recount()
        MetricsDelta.objects.create(kind=RollupKind.INTERACTION, day=FIRST, d1="sms", d2="open", n=1)
        with pytest.raises(AssertionError):
            assert_rollup_equals_recount()


def test_a_percentile_between_two_values_is_interpolated_like_postgresql():
    """Even counts: the median is half-way (the half microsecond rounded to even), p90 interpolated in float8."""
    with freeze_time(NOW):
        for seconds in (10, 20, 25, 1000):
            call = InteractionFactory(channel="call", provider="elevenlabs", created_at=NOW)
            CallDetailFactory(interaction=call, duration_seconds=seconds)
        sms = InteractionFactory(channel="sms", created_at=NOW)
        for micros in (1_000_001, 1_000_004, 2_000_000, 7_000_003):
            MessageFactory(
                interaction=sms,
                channel="sms",
                direction="outbound",
                status="delivered",
                queued_at=NOW,
                delivered_at=NOW + timedelta(microseconds=micros),
                created_at=NOW,
            )
        window = MetricsWindow(date_from=NOW.date(), date_to=NOW.date())
        fast, slow = metrics_summary(window=window), metrics_summary_recount(window=window)
        assert fast == slow
        assert fast["calls"]["p90_duration_seconds"] == round(25 + 0.7 * 975, 3)
        assert fast["messages"]["median_seconds_to_delivered"] == 1.5


def test_writers_do_not_wait_on_each_other():
    """The triggers only insert deltas: no statement of theirs updates a shared row."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname LIKE 'metrics\\_%%\\_%%' AND prosrc LIKE '%%UPDATE%%'")
        assert cursor.fetchall() == []


def test_the_command_checks_folds_and_builds(settings):
    with freeze_time(NOW):
        Scenario(random.Random(11)).run(steps=10)
    out = StringIO()
    call_command("metrics_rollup", stdout=out)
    assert out.getvalue().strip().endswith("exact")
    call_command("metrics_rollup", "--fold", stdout=out)
    assert "fold done" in out.getvalue() and not MetricsDelta.objects.exists()
    MetricsCount.objects.filter(kind=RollupKind.INTERACTION).delete()  # a broken roll-up...
    with pytest.raises(CommandError, match="keys differ"):
        call_command("metrics_rollup", stdout=out)
    call_command("metrics_rollup", "--build", stdout=out)  # ...counted again
    call_command("metrics_rollup", stdout=out)
    assert out.getvalue().strip().endswith("exact")
    assert settings.CELERY_BEAT_SCHEDULE["metrics-rollup-fold"]["task"] == "metrics.rollup_fold"


def test_a_rollup_in_another_zone_is_not_used(settings):
    """After a change of TIME_ZONE the days would be cut elsewhere: the selectors count live until a build."""
    settings.TIME_ZONE = "Asia/Kolkata" if settings.TIME_ZONE != "Asia/Kolkata" else "UTC"
    assert not metrics_rollup_usable()
    metrics_rollup_build()
    assert metrics_rollup_usable()
