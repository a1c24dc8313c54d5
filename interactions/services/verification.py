"""The one writer of "the customer of this interaction proved their number": an approved OTP challenge bound to the
interaction (otp.services) and the voice agent's verification of a caller (voice_call_verified_mark) both call it."""

from datetime import datetime
from uuid import UUID

from django.utils import timezone

from ..models import Interaction


def interaction_verified_mark(*, interaction_id: UUID | str, challenge_id: UUID | str, at: datetime) -> bool:
    """Record that the interaction's customer was verified at `at` by the OTP challenge `challenge_id`. A later
    verification by another challenge replaces the earlier one; the same challenge again writes nothing. One
    conditional UPDATE; returns whether it wrote."""
    return bool(
        Interaction.objects.filter(pk=interaction_id)
        .exclude(verified_by_challenge_id=challenge_id)
        .update(verified_at=at, verified_by_challenge_id=challenge_id, updated_at=timezone.now())
    )
