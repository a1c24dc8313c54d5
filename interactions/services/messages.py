"""Messages: recording outbound ones for delivery and moving statuses forward."""

import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.actions import AuditAction
from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from contactcenter.common.db import integrity_error_names
from contactcenter.common.domain import Conflict, InvalidInput, NotFound
from contactcenter.common.pii import InvalidPhoneNumber, phone_mask, phone_normalize
from contactcenter.common.tasks import enqueue_on_commit

from ..models import MESSAGE_STATUS_RANK, Channel, Direction, Interaction, Message, MessageStatus
from ..signals import message_status_changed
from ..tasks import message_deliver_task
from .conversations import channel_provider, interaction_open_or_continue, interaction_touch

logger = logging.getLogger(__name__)

_STATUS_TIMESTAMP_FIELD: dict[str, str] = {
    MessageStatus.SENT: "sent_at",
    MessageStatus.DELIVERED: "delivered_at",
    MessageStatus.READ: "read_at",
    MessageStatus.UNDELIVERED: "failed_at",
    MessageStatus.FAILED: "failed_at",
    MessageStatus.RECEIVED: "received_at",
}


def message_urgency(*, purpose: str) -> str:
    """The urgency of a message's delivery (settings.MESSAGE_URGENCY_BY_PURPOSE): `urgent` for a one-time code, whose
    customer is waiting for it; `default` for everything else. It picks the queue and so the worker that sends it."""
    return settings.MESSAGE_URGENCY_BY_PURPOSE.get(purpose, "default")


@dataclass(frozen=True)
class MessageStatusChange:
    applied: bool
    message: Message | None


def message_status_apply(
    *,
    status: str,
    message_id: UUID | str | None = None,
    provider_message_id: str | None = None,
    at: datetime | None = None,
    provider_status: str = "",
    error_code: str = "",
    error_message: str = "",
) -> MessageStatusChange:
    """Move a message to `status` only if that is a step forward (see MESSAGE_STATUS_RANK).

    One conditional UPDATE, so concurrent and out-of-order callbacks can never move a status back. A `sent` that
    comes too late to move anything still gives the message its `sent_at` when it has none. Returns whether the
    change was applied and the message (None when no message has that id)."""
    if status not in MESSAGE_STATUS_RANK:
        raise ValueError(f"unknown message status {status!r}")
    at = at or timezone.now()
    lookup = Q(pk=message_id) if message_id else Q(provider_message_id=provider_message_id)
    lower = [s for s, rank in MESSAGE_STATUS_RANK.items() if rank < MESSAGE_STATUS_RANK[status]]
    fields = {"status": status, "status_changed_at": at, "updated_at": timezone.now()}
    if provider_status:
        fields["provider_status"] = provider_status[:32]
    timestamp_field = _STATUS_TIMESTAMP_FIELD.get(status)
    if timestamp_field:
        fields[timestamp_field] = at
    if error_code or error_message:
        fields["error_code"] = str(error_code)[:32]
        fields["error_message"] = str(error_message)[:500]
    if connection.vendor == "postgresql":
        change = _message_status_apply_statement(
            status=status,
            message_id=message_id,
            provider_message_id=provider_message_id,
            lower=lower,
            fields=fields,
            at=at,
        )
        previous = change.previous_status
        message = change.message
        updated = change.applied
    else:
        # No savepoint of its own: callers that recover from a failure wrap it in theirs.
        with transaction.atomic(savepoint=False):
            previous = Message.objects.filter(lookup).values_list("status", flat=True).first()
            updated = bool(Message.objects.filter(lookup, status__in=lower).update(**fields))
            message = Message.objects.filter(lookup).first()
            if updated and message:
                # Steps skipped by out-of-order callbacks still get a time (a `delivered` implies it was `sent`).
                if status in (MessageStatus.DELIVERED, MessageStatus.READ) and not message.sent_at:
                    Message.objects.filter(pk=message.pk, sent_at__isnull=True).update(sent_at=at)
                    message.sent_at = at
                interaction_touch(interaction_id=message.interaction_id, at=at)
            elif message and status == MessageStatus.SENT and not message.sent_at:
                # A late `sent` moves nothing, but the step's time is still worth keeping.
                Message.objects.filter(pk=message.pk, sent_at__isnull=True).update(sent_at=at)
                message.sent_at = at
    if updated and message:
        message_id_committed = message.pk
        transaction.on_commit(
            lambda: message_status_changed.send(
                sender=Message, message_id=message_id_committed, status=status, previous_status=previous
            )
        )
    return MessageStatusChange(applied=updated, message=message)


@dataclass(frozen=True)
class _StatementChange:
    applied: bool
    message: Message | None
    previous_status: str | None


# The status step in one statement (the callback path runs it hundreds of times a second): lock the message, move it
# forward if `status` ranks above its status now (with the time of the step, and a `sent_at` for a delivered or read
# message that never had one), keep a late `sent`'s time when nothing moves, move the interaction's last activity
# forward, and return the message as it is afterwards with its status before. The two UPDATEs of the message exclude
# each other (a step forward, or not), so no row is changed twice.
_STATUS_APPLY_SQL = """
WITH target AS (
    SELECT id, status FROM interactions_message WHERE {lookup} = %(key)s FOR UPDATE
),
moved AS (
    UPDATE interactions_message m SET {assignments},
        sent_at = CASE WHEN %(sets_sent)s THEN %(at)s WHEN %(implies_sent)s THEN COALESCE(m.sent_at, %(at)s)
            ELSE m.sent_at END
    FROM target WHERE m.id = target.id AND target.status IN ({lower})
    RETURNING m.*
),
late AS (
    UPDATE interactions_message m SET sent_at = %(at)s
    FROM target
    WHERE m.id = target.id AND %(late_sent)s AND target.status NOT IN ({lower}) AND m.sent_at IS NULL
    RETURNING m.*
),
touched AS (
    UPDATE interactions_interaction i SET last_activity_at = %(at)s, updated_at = %(now)s
    FROM moved
    WHERE i.id = moved.interaction_id AND (i.last_activity_at IS NULL OR i.last_activity_at < %(at)s)
    RETURNING i.id
)
SELECT moved.*, true AS applied_now, target.status AS previous_status FROM moved, target
UNION ALL
SELECT late.*, false, target.status FROM late, target
UNION ALL
SELECT m.*, false, target.status FROM interactions_message m JOIN target ON m.id = target.id
WHERE NOT EXISTS (SELECT 1 FROM moved) AND NOT EXISTS (SELECT 1 FROM late)
"""
_UPDATABLE_COLUMNS = {
    field.name: field.column
    for field in Message._meta.concrete_fields
    if field.name
    in (
        "status",
        "status_changed_at",
        "updated_at",
        "provider_status",
        "delivered_at",
        "read_at",
        "failed_at",
        "received_at",
        "error_code",
        "error_message",
    )
}


def _message_status_apply_statement(
    *,
    status: str,
    message_id: UUID | str | None,
    provider_message_id: str | None,
    lower: list[str],
    fields: dict,
    at: datetime,
) -> _StatementChange:
    """`message_status_apply` on PostgreSQL: one statement (see _STATUS_APPLY_SQL)."""
    values = dict(fields)
    sent_at = values.pop("sent_at", None)
    assignments = ", ".join(f"{_UPDATABLE_COLUMNS[name]} = %(set_{name})s" for name in values)
    sql = _STATUS_APPLY_SQL.format(
        lookup="id" if message_id else "provider_message_id",
        assignments=assignments,
        # Our own status words (MESSAGE_STATUS_RANK), written into the text: one prepared statement per status.
        lower=", ".join(f"'{word}'" for word in lower) or "NULL",
    )
    params = {f"set_{name}": value for name, value in values.items()}
    params.update(
        key=str(message_id) if message_id else provider_message_id,
        at=sent_at or at,
        now=values["updated_at"],
        sets_sent=status == MessageStatus.SENT,
        implies_sent=status in (MessageStatus.DELIVERED, MessageStatus.READ),
        late_sent=status == MessageStatus.SENT,
    )
    if message_id:
        sql = sql.replace("WHERE id = %(key)s", "WHERE id = %(key)s::uuid")
    rows = list(Message.objects.raw(sql, params))
    if not rows:
        return _StatementChange(applied=False, message=None, previous_status=None)
    message = rows[0]
    # The statement's own columns beside the message's (raw() sets them as attributes).
    applied_now, previous_status = getattr(message, "applied_now"), getattr(message, "previous_status")  # noqa: B009
    return _StatementChange(applied=bool(applied_now), message=message, previous_status=previous_status)


def _media_url_check(url: str) -> None:
    """A media link handed to the provider, which fetches it: a public https address by name, never an address of
    ours or the provider's own network (an IP literal, localhost, an internal name)."""
    parsed = urlsplit(url)
    host = (parsed.hostname or "").rstrip(".").lower()
    internal = host in ("localhost",) or host.endswith((".localhost", ".local", ".internal", ".lan")) or "." not in host
    try:
        ipaddress.ip_address(host)
        literal = True
    except ValueError:
        literal = False
    if parsed.scheme != "https" or not host or internal or literal or parsed.username or parsed.password:
        raise InvalidInput(
            "The media URL must be a public https address (a host name, no credentials).",
            code="invalid_media_url",
            attr="media_url",
        )


def message_send(
    *,
    channel: str,
    body: str,
    interaction: Interaction | None = None,
    phone: str | None = None,
    media_url: str = "",
    purpose: str = "",
    is_sensitive: bool = False,
    actor: Actor | None = None,
    resent_from: Message | None = None,
) -> Message:
    """Record an outbound message as `queued` and enqueue its delivery once the caller's transaction commits.

    Give an interaction (the message goes to its customer, on its channel) or a phone and a channel (the customer's
    open interaction on that channel continues, or a new outbound one is opened). `resent_from`: the message this one
    resends (see message_resend); a second resend of it is an IntegrityError on `message_resent_once`."""
    if channel not in (Channel.SMS, Channel.WHATSAPP):
        raise InvalidInput("Messages can only be sent by SMS or WhatsApp.", code="invalid_channel", attr="channel")
    body = (body or "").strip()
    if not body and not media_url:
        raise InvalidInput("A message needs a body or a media URL.", code="empty_message", attr="body")
    if media_url and channel != Channel.WHATSAPP:
        raise InvalidInput("Media can only be sent by WhatsApp.", code="media_not_supported", attr="media_url")
    if media_url:
        _media_url_check(media_url)
    if len(body) > 1600:
        raise InvalidInput("The body is longer than 1600 characters.", code="body_too_long", attr="body")
    now = timezone.now()
    with transaction.atomic():
        if interaction is None:
            try:
                e164 = phone_normalize(phone)
            except InvalidPhoneNumber as exc:
                raise InvalidInput("Enter a phone number in E.164 format.", code="invalid_phone", attr="phone") from exc
            interaction, _ = interaction_open_or_continue(
                channel=channel, phone=e164, provider=channel_provider(channel), direction=Direction.OUTBOUND, at=now
            )
        else:
            if interaction.channel != channel:
                raise InvalidInput("The interaction is on another channel.", code="channel_mismatch", attr="channel")
            if not interaction.customer_phone or "*" in interaction.customer_phone:
                raise InvalidInput("The interaction has no customer number to write to.", code="no_customer_phone")
            e164 = interaction.customer_phone
        message = Message.objects.create(
            interaction=interaction,
            channel=channel,
            direction=Direction.OUTBOUND,
            status=MessageStatus.QUEUED,
            to_phone=e164,
            to_address=interaction.customer_address if channel == Channel.WHATSAPP else "",
            body=body,
            media_url=media_url,
            provider=channel_provider(channel),
            purpose=purpose,
            is_sensitive=is_sensitive,
            queued_at=now,
            status_changed_at=now,
            resent_from=resent_from,
        )
        interaction_touch(interaction_id=interaction.pk, at=now)
        if actor is not None:
            audit_log_record(
                actor=actor,
                action=AuditAction.MESSAGE_QUEUED,
                target_type="message",
                target_id=message.pk,
                data={
                    "channel": channel,
                    "to": phone_mask(e164),
                    "interaction": str(interaction.pk),
                    "purpose": purpose,
                },
            )
        enqueue_on_commit(message_deliver_task, str(message.pk), urgency=message_urgency(purpose=purpose))
    return message


RESENDABLE_STATUSES = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
RESENT_ONCE = "message_resent_once"  # the unique constraint on Message.resent_from


def message_resend(*, message_id: UUID | str, actor: Actor) -> Message:
    """Queue a failed or undelivered outbound message again, as a new Message with the same body, media and purpose
    on the same interaction. A message is resent at most once (a resend that fails can itself be resent); sensitive
    messages (OTP codes) are never resent: their body is gone, and the customer asks for a new code instead.

    "At most once" is the database's: the new message points at the original under a unique constraint, so of two
    concurrent resends one inserts and the other is refused (Conflict `already_resent`)."""
    with transaction.atomic():
        original = Message.objects.select_related("interaction").filter(pk=message_id).first()
        if original is None:
            raise NotFound("No such message.", code="not_found")
        if original.direction != Direction.OUTBOUND or original.status not in RESENDABLE_STATUSES:
            raise Conflict("Only a failed or undelivered outbound message can be resent.", code="not_resendable")
        if original.is_sensitive:
            raise Conflict("A one-time code is never resent; request a new code instead.", code="sensitive_message")
        try:
            resent = message_send(
                channel=original.channel,
                body=original.body,
                interaction=original.interaction,
                media_url=original.media_url,
                purpose=original.purpose,
                actor=actor,
                resent_from=original,
            )
        except IntegrityError as exc:
            if not integrity_error_names(exc, RESENT_ONCE):
                raise
            raise Conflict("This message was already resent.", code="already_resent") from None
        audit_log_record(
            actor=actor,
            action=AuditAction.MESSAGE_RESENT,
            target_type="message",
            target_id=original.pk,
            data={"resent_as": str(resent.pk), "channel": original.channel, "previous_status": original.status},
        )
    return resent
