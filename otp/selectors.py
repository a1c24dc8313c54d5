"""Reads of OTP challenges: the public shape of a challenge, lookups and the daily verified-to-sent ratio."""

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from .models import OtpChallenge, OtpStatus


def challenge_public_dict(challenge: OtpChallenge) -> dict:
    """What API clients see of a challenge: never the code, its hash or the phone (the answer must not tell anything
    about the number it was sent to)."""
    return {
        "id": str(challenge.pk),
        "status": challenge.status,
        "purpose": challenge.purpose,
        "expires_at": challenge.expires_at.isoformat().replace("+00:00", "Z"),
        "attempts_remaining": max(challenge.max_attempts - challenge.attempts, 0),
        "delivery_status": challenge.delivery_status,
    }


def otp_challenge_get(*, challenge_id: UUID | str, client_id: str | None = None) -> OtpChallenge | None:
    """A challenge by id; with `client_id`, only one that client created (another's is as if it did not exist)."""
    challenges = OtpChallenge.objects.select_related("message").filter(pk=challenge_id)
    if client_id:
        challenges = challenges.filter(client_id=client_id)
    return challenges.first()


def otp_daily_conversion(*, start: date, end: date) -> list[dict]:
    """Per day (UTC) from `start` to `end` inclusive: codes sent (challenges created), approved, and the ratio
    approved / sent, computed in the database. A falling ratio with steady sends is the mark of SMS pumping."""
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    rows = (
        OtpChallenge.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(sent=Count("id"), approved=Count("id", filter=Q(status=OtpStatus.APPROVED)))
        .order_by("day")
    )
    return [
        {
            "day": row["day"],
            "sent": row["sent"],
            "approved": row["approved"],
            "ratio": round(row["approved"] / row["sent"], 4) if row["sent"] else None,
        }
        for row in rows
    ]
