"""Voice calls as the voice agent's tools see them while the call is on: the call's interaction (found or created by
its conversation id, the same one the post-call webhook lands on), the number the call came from, marking the caller
verified, and the little a voice agent may know of a caller before they are verified."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from django.db import transaction
from django.db.models import Q

from contactcenter.common.pii import InvalidPhoneNumber, phone_lookup_hashes, phone_mask, phone_normalize

from ..models import CallDetail, Interaction
from .calls import NormalizedCall, call_upsert
from .conversations import OPEN_STATUSES
from .verification import interaction_verified_mark

_NOT_DIGITS = re.compile(r"\D")


def phone_or_empty(raw: object) -> str:
    """E.164, or "" for anything that is not a phone number (withheld numbers, WhatsApp ids that are not numbers…)."""
    try:
        return phone_normalize(raw) if raw else ""
    except InvalidPhoneNumber:
        return ""


def spoken_digits(value: object, *, length: int) -> str:
    """The digits a caller read aloud, as the agent passed them: "1 2 3 4 5 6", "123-456", "123 456", 123456, a list
    of parts. A JSON number lost its leading zeros, so it is padded back to `length`. Returns only the digits (the
    caller checks their count)."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return str(value).zfill(length) if value >= 0 else ""
    if isinstance(value, list | tuple):
        return "".join(spoken_digits(part, length=0) for part in value)
    return _NOT_DIGITS.sub("", str(value)[:200])


def voice_call_number(*, provider: str, conversation_id: str) -> str:
    """The customer number we recorded for this conversation (from its initiation request or its post-call
    webhook), "" when we know none."""
    if not conversation_id:
        return ""
    number = (
        CallDetail.objects.filter(interaction__provider=provider, conversation_id=conversation_id)
        .values_list("customer_number", flat=True)
        .first()
    )
    return number or ""


def voice_call_open(
    *,
    provider: str,
    conversation_id: str,
    customer_number: str = "",
    agent_number: str = "",
    call_sid: str = "",
    agent_id: str = "",
    direction: str | None = None,
) -> Interaction:
    """The call's interaction for this conversation id, created (in progress) when the post-call webhook has not come
    yet. The post-call webhook later lands on the same row (both go through `call_upsert`, keyed by provider and
    conversation id); what is known already is never overwritten with blanks."""
    return call_upsert(
        call=NormalizedCall(
            provider=provider,
            conversation_id=conversation_id,
            direction=direction,
            customer_number=customer_number,
            agent_number=agent_number,
            call_sid=call_sid,
            agent_id=agent_id,
        )
    )


def voice_call_verified_mark(
    *, provider: str, conversation_id: str, challenge_id: UUID | str, at: datetime
) -> Interaction:
    """Record on the call's interaction that the caller proved their number with `challenge_id` (creating the
    interaction if needed). A later verification of the same call replaces the earlier one."""
    with transaction.atomic():
        interaction = voice_call_open(provider=provider, conversation_id=conversation_id)
        interaction_verified_mark(interaction_id=interaction.pk, challenge_id=challenge_id, at=at)
        interaction.refresh_from_db(fields=["verified_at", "verified_by_challenge_id", "updated_at"])
    return interaction


@dataclass(frozen=True)
class CallerContext:
    """What the voice agent may be told about a caller before they are verified: nothing that names them or tells
    their business (no names, balances or message text), the number only masked. Anyone can call from (or spoof) a
    number, so these are coarse facts about the number, not about a person."""

    customer_known: bool = False
    customer_masked_phone: str = ""
    open_interactions: int = 0
    last_contact_channel: str = ""
    last_contact_date: str = ""  # YYYY-MM-DD (UTC)


def voice_caller_context(*, phone: str, exclude_external_id: str = "") -> CallerContext:
    """The caller's context across channels, by the keyed hash of their number (it works after redaction too).
    `exclude_external_id` leaves out the call that is asking (its own interaction may exist already)."""
    if not phone:
        return CallerContext()
    interactions = Interaction.objects.filter(customer_phone_hash__in=phone_lookup_hashes(phone))
    if exclude_external_id:
        interactions = interactions.exclude(Q(external_id=exclude_external_id) & Q(channel="call"))
    latest = (
        interactions.order_by("-created_at").values("channel", "last_activity_at", "started_at", "created_at").first()
    )
    if latest is None:
        return CallerContext(customer_masked_phone=phone_mask(phone))
    when = latest["last_activity_at"] or latest["started_at"] or latest["created_at"]
    return CallerContext(
        customer_known=True,
        customer_masked_phone=phone_mask(phone),
        open_interactions=interactions.filter(status__in=OPEN_STATUSES).count(),
        last_contact_channel=latest["channel"],
        last_contact_date=when.astimezone(UTC).date().isoformat() if when else "",
    )
