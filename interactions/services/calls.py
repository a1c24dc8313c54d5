"""Voice calls: creating or updating a call Interaction and its CallDetail from a provider's normalized record.

Provider adapters (`interactions.providers.elevenlabs`) turn deliveries into the records below; these services know
nothing of a provider's field names. Every write is serialised per conversation id, so a transcript and its audio
arriving together build one interaction."""

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import cast

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from contactcenter.common.db import advisory_xact_lock, model_insert
from contactcenter.common.pii import InvalidPhoneNumber, phone_normalize

from ..models import CallDetail, Channel, Direction, Interaction, InteractionStatus
from .conversations import interaction_from_row, model_from_row


@dataclass(frozen=True)
class NormalizedCall:
    """What a voice provider tells us about one call. Fields left None/empty are unknown and never overwrite what an
    earlier event stored."""

    provider: str
    conversation_id: str
    # completed | failed | in_progress (our InteractionStatus words); None when the event does not say.
    status: str | None = None
    conversation_status: str = ""  # the provider's own word (done, failed, processing…)
    direction: str | None = None  # inbound | outbound
    agent_id: str = ""
    agent_name: str = ""
    call_sid: str = ""
    phone_call_type: str = ""
    customer_number: str = ""  # as received; normalized to E.164 when stored
    agent_number: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    end_reason: str = ""
    failure_reason: str = ""
    call_successful: str = ""
    summary_title: str = ""
    summary: str = ""
    transcript: list | None = None
    analysis: dict | None = None
    has_audio: bool | None = None
    cost: Decimal | None = None
    user_id: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class NormalizedCallAudio:
    """A call's recording (MP3 bytes), delivered separately from its transcript."""

    provider: str
    conversation_id: str
    audio: bytes
    agent_id: str = ""
    extension: str = "mp3"


logger = logging.getLogger(__name__)

_CALL_TEXT_FIELDS = (
    "agent_id",
    "agent_name",
    "call_sid",
    "phone_call_type",
    "conversation_status",
    "end_reason",
    "failure_reason",
    "call_successful",
    "summary_title",
    "summary",
)
_CALL_VALUE_FIELDS = ("started_at", "ended_at", "duration_seconds", "transcript", "analysis", "has_audio", "cost")


def _e164_or_empty(raw: str) -> str:
    try:
        return phone_normalize(raw) if raw else ""
    except InvalidPhoneNumber:
        return ""


def _call_locked(*, provider: str, conversation_id: str, direction: str | None, at: datetime) -> Interaction:
    """The call's interaction (created when missing), inside the caller's transaction, locked for update."""
    advisory_xact_lock(f"call:{provider}:{conversation_id}")
    interaction = Interaction.objects.select_for_update().filter(provider=provider, external_id=conversation_id).first()
    if interaction is None:
        interaction = Interaction.objects.create(
            channel=Channel.CALL,
            direction=direction or Direction.INBOUND,
            provider=provider,
            external_id=conversation_id,
            status=InteractionStatus.IN_PROGRESS,
            started_at=at,
            last_activity_at=at,
        )
    CallDetail.objects.get_or_create(interaction=interaction, defaults={"conversation_id": conversation_id})
    return interaction


def call_upsert(*, call: NormalizedCall) -> Interaction:
    """Create or update the call interaction found by its conversation id, with its CallDetail.

    Safe to apply twice and in any order with the call's audio: known values are written, unknown ones kept. A call
    seen for the first time is inserted with everything known (one INSERT per row, never an INSERT then an UPDATE)."""
    if not call.conversation_id:
        raise ValueError("a call needs its conversation id")
    now = timezone.now()
    # No savepoint of its own: a caller that recovers from a failure wraps it in its own.
    with transaction.atomic(savepoint=False):
        advisory_xact_lock(f"call:{call.provider}:{call.conversation_id}")
        interaction = _call_interaction_locked(provider=call.provider, conversation_id=call.conversation_id)
        interaction_created = interaction is None
        detail = None
        if interaction is None:
            at = call.started_at or now
            interaction = Interaction(
                channel=Channel.CALL,
                direction=call.direction or Direction.INBOUND,
                provider=call.provider,
                external_id=call.conversation_id,
                status=InteractionStatus.IN_PROGRESS,
                started_at=at,
                last_activity_at=at,
            )
        else:
            detail = _call_detail_locked(interaction=interaction)
        detail_created = detail is None
        if detail is None:
            detail = CallDetail(interaction=interaction, conversation_id=call.conversation_id)
        customer = _e164_or_empty(call.customer_number)
        _call_detail_fill(detail=detail, call=call, customer=customer)
        _call_interaction_fill(interaction=interaction, call=call, customer=customer, now=now)
        interaction.save(force_insert=interaction_created)
        if detail_created:
            model_insert(detail)  # one INSERT, without the ORM's query building
        else:
            detail.save()
    return interaction


def _call_interaction_locked(*, provider: str, conversation_id: str) -> Interaction | None:
    """The call's interaction, locked for update (one at most: provider and external id are unique). Written by hand:
    the post-call webhook runs it for every call, and the ORM's query building cost more than the query."""
    if connection.vendor != "postgresql":
        return Interaction.objects.select_for_update().filter(provider=provider, external_id=conversation_id).first()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM interactions_interaction WHERE provider = %s AND external_id = %s FOR UPDATE",
            [provider, conversation_id],
        )
        row = cursor.fetchone()
        if row is None:
            return None
        columns = [column.name for column in cursor.description]
    return interaction_from_row(columns, row)


def _call_detail_locked(*, interaction: Interaction) -> CallDetail | None:
    if connection.vendor != "postgresql":
        return CallDetail.objects.select_for_update().filter(interaction=interaction).first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM interactions_calldetail WHERE interaction_id = %s FOR UPDATE", [interaction.pk])
        row = cursor.fetchone()
        if row is None:
            return None
        columns = [column.name for column in cursor.description]
    return model_from_row(CallDetail, columns, row)


def _call_detail_fill(*, detail: CallDetail, call: NormalizedCall, customer: str) -> None:
    for name in _CALL_TEXT_FIELDS:
        value = getattr(call, name)
        if value:
            setattr(detail, name, str(value)[: cast(Field, CallDetail._meta.get_field(name)).max_length or None])
    for name in _CALL_VALUE_FIELDS:
        value = getattr(call, name)
        if value is not None:
            setattr(detail, name, value)
    agent_line = _e164_or_empty(call.agent_number) or call.agent_number[:32]
    if customer:
        detail.customer_number = customer
    if agent_line:
        detail.agent_number = agent_line
    if call.metadata:
        detail.metadata = {**detail.metadata, **call.metadata}


def _call_interaction_fill(*, interaction: Interaction, call: NormalizedCall, customer: str, now: datetime) -> None:
    if customer and not interaction.redacted_at:
        interaction.customer_phone = customer
    if call.direction:
        interaction.direction = call.direction
    if call.status:
        interaction.status = call.status
    if call.started_at and (not interaction.started_at or call.started_at < interaction.started_at):
        interaction.started_at = call.started_at
    if call.ended_at:
        interaction.ended_at = call.ended_at
    if call.summary:
        interaction.summary = call.summary
    if call.summary_title:
        interaction.subject = call.summary_title[:255]
    activity = call.ended_at or call.started_at or now
    if not interaction.last_activity_at or activity > interaction.last_activity_at:
        interaction.last_activity_at = activity
    if call.user_id:
        interaction.metadata = {**interaction.metadata, "provider_user_id": call.user_id}


def call_recording_attach(*, audio: NormalizedCallAudio) -> tuple[Interaction, str]:
    """Store a call's recording in the default storage and attach it to the call's CallDetail (creating the
    interaction when the audio comes before the transcript). Returns (interaction, stored file name).

    A second delivery of the same audio (same bytes) keeps the file already stored."""
    if not audio.conversation_id:
        raise ValueError("a recording needs its conversation id")
    if not audio.audio:
        raise ValueError("the recording is empty")
    digest = hashlib.sha256(audio.audio).hexdigest()
    with transaction.atomic():
        interaction = _call_locked(
            provider=audio.provider, conversation_id=audio.conversation_id, direction=None, at=timezone.now()
        )
        detail = CallDetail.objects.select_for_update().get(interaction=interaction)
        if detail.recording and detail.metadata.get("recording_sha256") == digest:
            return interaction, detail.recording.name or ""  # a stored file has a name
        safe_id = "".join(ch for ch in audio.conversation_id if ch.isalnum() or ch in "-_")[:100] or "call"
        detail.recording.save(f"{safe_id}.{audio.extension}", ContentFile(audio.audio), save=False)
        detail.has_audio = True
        if audio.agent_id and not detail.agent_id:
            detail.agent_id = audio.agent_id
        detail.metadata = {**detail.metadata, "recording_sha256": digest, "recording_bytes": len(audio.audio)}
        detail.save()
        logger.info(
            "call_recording_stored",
            extra={"interaction_id": str(interaction.pk), "bytes": len(audio.audio), "file": detail.recording.name},
        )
    return interaction, detail.recording.name or ""  # a stored file has a name
