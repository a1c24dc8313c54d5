"""The metrics roll-up: counts per day and key, kept exact by PostgreSQL triggers (see metrics/rollup_sql.py).

Triggers append `MetricsDelta` rows (never update one, so concurrent writers do not queue on a row lock); the fold
(`metrics_rollup_fold`, a periodic task) moves them into `MetricsCount`; reads add both in one statement."""

from django.db import models
from django.db.models import Q


class RollupKind(models.TextChoices):
    """What a row counts (not shown to users: the admin does not list the roll-up)."""

    INTERACTION = "interaction", "interactions by channel and status"
    CALL = "call", "call durations"
    MESSAGE = "message", "outbound messages by channel, status and error code"
    DELIVERY = "delivery", "times to delivered"
    OTP = "otp", "OTP challenges by status"
    WEBHOOK = "webhook", "webhook deliveries by provider and status"


class _RollupRow(models.Model):
    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=RollupKind.choices)
    day = models.DateField()
    d1 = models.CharField(max_length=64, default="")
    d2 = models.CharField(max_length=64, default="")
    d3 = models.CharField(max_length=64, default="")
    value = models.BigIntegerField(default=0)
    n = models.BigIntegerField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.kind} {self.day} {self.d1} {self.d2} {self.d3} {self.value}: {self.n}"


class MetricsCount(_RollupRow):
    """How many counted rows have this key on this day (deltas folded in up to the last fold)."""

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "day", "d1", "d2", "d3", "value"], name="metrics_count_key_uniq")
        ]
        indexes = [models.Index(fields=["n"], condition=Q(n=0), name="metrics_count_zero_idx")]


class MetricsDelta(_RollupRow):
    """A change of a count not folded yet (appended by the triggers; only the fold deletes)."""
