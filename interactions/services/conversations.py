"""Interactions as conversations: finding the customer's open one, or opening a new one."""

from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Model, Q
from django.utils import timezone

from contactcenter.common.db import advisory_xact_lock

from ..models import Channel, Interaction, InteractionStatus

M = TypeVar("M", bound=Model)

# A WhatsApp or SMS exchange with a customer continues the same interaction while it is open and active this recently.
CONVERSATION_IDLE_TIMEOUT = timedelta(hours=24)
OPEN_STATUSES = (InteractionStatus.OPEN, InteractionStatus.IN_PROGRESS)


def channel_provider(channel: str) -> str:
    """The provider's name on a message of `channel` we send (the registry's provider of that channel)."""
    # The registry is imported here, not at the top: its providers' appliers import these services.
    from ..providers.registry import provider_for_channel

    provider = provider_for_channel(channel)
    return provider.record_provider() if provider is not None and channel != Channel.CALL else ""


def interaction_open_or_continue(
    *,
    channel: str,
    phone: str,
    provider: str,
    direction: str,
    at: datetime | None = None,
    address: str = "",
    touch: bool = False,
) -> tuple[Interaction, bool]:
    """The customer's open interaction on this channel if it was active within the idle timeout, else a new one.

    `phone` is the canonical number (contactcenter.common.pii.phone_normalize); `address`, the provider's own
    address of the customer where it differs (kept for replies). Serialised per (channel, phone) with an advisory
    lock so that two messages arriving together share one interaction. With `touch`, the interaction found has its
    last activity moved forward to `at` (as `interaction_touch` would) in the same statement that finds it. Returns
    (interaction, created)."""
    at = at or timezone.now()
    # No savepoint of its own: callers that recover from a failure wrap it in theirs.
    with transaction.atomic(savepoint=False):
        advisory_xact_lock(f"interaction:{channel}:{phone}")
        if touch and connection.vendor == "postgresql":
            existing = _open_interaction_touch(channel=channel, phone=phone, at=at, address=address)
        else:
            existing = (
                Interaction.objects.filter(
                    channel=channel,
                    customer_phone=phone,
                    status__in=OPEN_STATUSES,
                    last_activity_at__gte=at - CONVERSATION_IDLE_TIMEOUT,
                )
                .order_by("-last_activity_at")
                .first()
            )
            if existing and touch:
                interaction_touch(interaction_id=existing.pk, at=at)
        if existing:
            if address and existing.customer_address != address:
                Interaction.objects.filter(pk=existing.pk).update(customer_address=address[:32])
                existing.customer_address = address[:32]
            return existing, False
        interaction = Interaction.objects.create(
            customer_address=address[:32],
            channel=channel,
            direction=direction,
            customer_phone=phone,
            provider=provider,
            status=InteractionStatus.OPEN,
            started_at=at,
            last_activity_at=at,
        )
        return interaction, True


# Find the open interaction, move its last activity forward and keep the provider's address in one statement (the inbound message path runs it
# hundreds of times a second); the caller holds the conversation's advisory lock.
_OPEN_TOUCH_SQL = """
UPDATE interactions_interaction SET
    last_activity_at = GREATEST(last_activity_at, %(at)s),
    updated_at = CASE WHEN last_activity_at IS NULL OR last_activity_at < %(at)s THEN %(now)s ELSE updated_at END,
    customer_address = CASE WHEN %(address)s = '' THEN customer_address ELSE %(address)s END
WHERE id = (
    SELECT id FROM interactions_interaction
    WHERE channel = %(channel)s AND customer_phone = %(phone)s AND status IN ({open_statuses})
        AND last_activity_at >= %(since)s
    ORDER BY last_activity_at DESC
    LIMIT 1
)
RETURNING *
""".format(  # noqa: S608 (our own status words, not input)
    open_statuses=", ".join(f"'{status.value}'" for status in OPEN_STATUSES)
)


def _open_interaction_touch(*, channel: str, phone: str, at: datetime, address: str) -> Interaction | None:
    params: dict[str, Any] = {
        "at": at,
        "now": timezone.now(),
        "channel": channel,
        "phone": phone,
        "since": at - CONVERSATION_IDLE_TIMEOUT,
        "address": address[:32],
    }
    with connection.cursor() as cursor:
        cursor.execute(_OPEN_TOUCH_SQL, params)
        row = cursor.fetchone()
        if row is None:
            return None
        columns = [column.name for column in cursor.description]
    return interaction_from_row(columns, row)


def interaction_from_row(columns: list[str], row: tuple) -> Interaction:
    return model_from_row(Interaction, columns, row)


def model_from_row(model: type[M], columns: list[str], row: tuple) -> M:
    """A model instance from a row of `SELECT *` / `RETURNING *` (columns by their database names), as a queryset would
    build it (each field's database converter applied: JSON columns come as text)."""
    by_column = dict(zip(columns, row, strict=True))
    fields = model._meta.concrete_fields
    values = []
    for field in fields:
        value = by_column[str(field.column)]
        converter = getattr(field, "from_db_value", None)
        values.append(converter(value, None, connection) if converter else value)
    return model.from_db(connection.alias, [field.attname for field in fields], values)


def interaction_touch(*, interaction_id: UUID | str, at: datetime | None = None) -> None:
    """Move `last_activity_at` forward (never back)."""
    at = at or timezone.now()
    Interaction.objects.filter(pk=interaction_id).filter(
        Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=at)
    ).update(last_activity_at=at, updated_at=timezone.now())
