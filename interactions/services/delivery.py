"""Delivering queued outbound messages through their channel's backend, and recovering the ones whose wake-up call
was lost (the sweeper).

The Message row is the source of truth; a task is only a wake-up call, and running it twice is harmless:
- a delivery starts by claiming the row (`queued` → `sending`) with one conditional UPDATE, so only one worker sends;
- a transient error puts the row back to `queued` and asks for a retry later (exponential backoff, jitter, a cap);
- a permanent error marks it `failed` with the provider's code at once;
- an error after which the provider may still have created the message (read timeout, dropped connection, 5xx)
  puts it back to `queued` marked `send_uncertain`: the next attempt first asks the provider for it (`lookup`) and
  adopts it if found, and sends only if not;
- a worker killed in the middle of a send leaves the row `sending` without a provider id; once that is older than
  any send could last (`MESSAGE_SENDING_TIMEOUT_SECONDS`, above the task time limit) the sweeper treats it like an
  uncertain send.
"""

import logging
import random
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from contactcenter.common.tasks import enqueue_on_commit

from ..models import Channel, Direction, Message, MessageStatus
from ..providers.base import (
    LookupBackend,
    OutboundMessage,
    PermanentSendError,
    SendBackend,
    SendResult,
    TransientSendError,
    UncertainSendError,
)
from ..providers.console import ConsoleBackend
from ..signals import message_provider_id_assigned
from ..tasks import message_deliver_task
from .messages import message_status_apply, message_urgency

logger = logging.getLogger(__name__)

# What the body of a sensitive message (an OTP code) becomes once the provider has it, or once it failed.
SENSITIVE_BODY_REDACTED = "[one-time code removed after sending]"
# `error_code` of a queued message whose previous attempt may have reached the provider.
SEND_UNCERTAIN = "send_uncertain"


@dataclass(frozen=True)
class DeliveryOutcome:
    # sent | skipped | failed | retry
    outcome: str
    retry_in: float | None = None


def delivery_backend_for(channel: str) -> SendBackend:
    """The send backend of a channel, by SMS_BACKEND / WHATSAPP_BACKEND (`auto`: the provider when configured)."""
    choice = settings.SMS_BACKEND if channel == Channel.SMS else settings.WHATSAPP_BACKEND
    if choice == "console":
        return ConsoleBackend()
    # The registry is imported here, not at the top: its providers' appliers import these services.
    from ..providers.registry import provider_for_channel

    provider = provider_for_channel(channel)
    backend = provider.send_backend() if provider is not None else None
    return backend or ConsoleBackend()


def _retry_cap() -> float:
    return float(min(settings.MESSAGE_RETRY_MAX_DELAY_SECONDS, settings.CELERY_MAX_TASK_DELAY_SECONDS))


def _retry_ceiling(attempts: int) -> float:
    """The longest wait after the `attempts`-th failed attempt: base · 2^(attempts-1), capped."""
    return min(_retry_cap(), settings.MESSAGE_RETRY_BASE_DELAY_SECONDS * 2 ** max(attempts - 1, 0))


def message_retry_delay(*, attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait before the next attempt: exponential backoff with jitter (between half and all of the
    ceiling), at least the provider's Retry-After, never above the cap (<= CELERY_MAX_TASK_DELAY_SECONDS)."""
    ceiling = _retry_ceiling(attempts)
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after:
        delay = max(delay, retry_after)
    return round(min(delay, _retry_cap()), 3)


def _outbound(message: Message) -> OutboundMessage:
    validity = settings.MESSAGE_SENSITIVE_MAX_AGE_SECONDS if message.is_sensitive else 0
    return OutboundMessage(
        message_id=str(message.pk),
        channel=message.channel,
        to_phone=message.to_phone,
        to_address=message.to_address,
        body=message.body,
        media_url=message.media_url,
        is_sensitive=message.is_sensitive,
        validity_seconds=validity,
    )


def _log(message: Message, outcome: str, **extra: Any) -> None:
    logger.info(
        "message_delivery",
        extra={
            "message_id": str(message.pk),
            "channel": message.channel,
            "outcome": outcome,
            "attempt": message.send_attempts,
            **extra,
        },
    )


def _fail(message: Message, *, code: str, detail: str) -> DeliveryOutcome:
    with transaction.atomic():
        message_status_apply(message_id=message.pk, status=MessageStatus.FAILED, error_code=code, error_message=detail)
        if message.is_sensitive:
            Message.objects.filter(pk=message.pk).update(body=SENSITIVE_BODY_REDACTED)
    _log(message, "failed", error_code=code)
    return DeliveryOutcome("failed")


def _retry_later(message: Message, error: TransientSendError, *, uncertain: bool) -> DeliveryOutcome:
    delay = message_retry_delay(attempts=message.send_attempts, retry_after=error.retry_after)
    if uncertain:
        delay = max(delay, float(settings.MESSAGE_UNCERTAIN_RECHECK_SECONDS))
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING, provider_message_id__isnull=True).update(
        status=MessageStatus.QUEUED,
        error_code=SEND_UNCERTAIN if uncertain else str(error.code)[:32],
        error_message=str(error.detail)[:500],
        updated_at=timezone.now(),
    )
    _log(message, "retry", error_code=error.code, uncertain=uncertain, retry_in=delay)
    return DeliveryOutcome("retry", retry_in=delay)


def _accepted(message: Message, result: SendResult, *, backend_name: str) -> DeliveryOutcome:
    """The provider has the message: keep its id, move the status forward, and drop a sensitive body."""
    fields: dict[str, Any] = {
        "provider": backend_name,
        "provider_status": (result.provider_status or "")[:32],
        "error_code": "",
        "error_message": "",
        "updated_at": timezone.now(),
    }
    if message.is_sensitive:
        fields["body"] = SENSITIVE_BODY_REDACTED
    provider_id = result.provider_message_id
    status = result.status if result.status not in ("queued", "") else MessageStatus.SENDING
    if status == MessageStatus.SENDING and provider_id:
        # The usual answer (Twilio's `queued`): the row is `sending` already, so keeping the provider's id is the only
        # change: one UPDATE, no transaction. Its status moves only if the sweeper put it back to `queued` meanwhile
        # (the forward-only rule of message_status_apply, in the statement).
        # Inside a caller's transaction (eager tasks) a savepoint keeps it usable if the id is taken; outside, none.
        guard = transaction.atomic() if connection.in_atomic_block else nullcontext()
        try:
            with guard:
                updated = Message.objects.filter(
                    Q(provider_message_id__isnull=True) | Q(provider_message_id=provider_id), pk=message.pk
                ).update(
                    provider_message_id=provider_id,
                    status=Case(
                        When(status=MessageStatus.QUEUED, then=Value(MessageStatus.SENDING)), default=F("status")
                    ),
                    **fields,
                )
        except IntegrityError:
            logger.error("message_provider_id_taken", extra={"message_id": str(message.pk)})
            updated = 0
        if updated:
            message_pk, sid = message.pk, provider_id
            transaction.on_commit(
                lambda: message_provider_id_assigned.send(
                    sender=Message, message_id=message_pk, provider_message_id=sid
                )
            )
            _log(message, "sent", provider=backend_name)
            return DeliveryOutcome("sent")
        provider_id = None  # taken by another message: keep the rest below, without the id
    with transaction.atomic():
        if provider_id:
            try:
                with transaction.atomic():
                    Message.objects.filter(
                        Q(provider_message_id__isnull=True) | Q(provider_message_id=provider_id), pk=message.pk
                    ).update(provider_message_id=provider_id, **fields)
            except IntegrityError:
                logger.error("message_provider_id_taken", extra={"message_id": str(message.pk)})
                provider_id = None
        if not provider_id:
            Message.objects.filter(pk=message.pk).update(**fields)
        message_status_apply(message_id=message.pk, status=status, provider_status=result.provider_status)
        if provider_id:
            message_pk = message.pk
            transaction.on_commit(
                lambda: message_provider_id_assigned.send(
                    sender=Message, message_id=message_pk, provider_message_id=provider_id
                )
            )
    _log(message, "sent", provider=backend_name)
    return DeliveryOutcome("sent")


def _lookup(backend: LookupBackend, message: Message) -> SendResult | None:
    """The provider's copy of a message an earlier, uncertain attempt may have created (ids we already hold aside)."""
    found = backend.lookup(_outbound(message), since=message.queued_at or message.created_at)
    if found and found.provider_message_id:
        taken = Message.objects.filter(provider_message_id=found.provider_message_id).exclude(pk=message.pk).exists()
        if taken:
            return None
    return found


# The claim, written by hand: one conditional UPDATE that also returns the row (the ORM would need a second query).
_CLAIM_SQL = """
    UPDATE interactions_message
       SET status = %s, last_attempt_at = %s, updated_at = %s, send_attempts = send_attempts + 1
     WHERE id = %s AND direction = %s AND status = %s AND provider_message_id IS NULL
 RETURNING *
"""


def _claim(*, message_id: UUID | str, now: datetime) -> Message | None:
    """Take a queued message for this attempt (`queued` → `sending`) and return it as it is now, or None when it is
    not queued any more (another attempt has it, it was sent, it is gone). Of concurrent attempts, one gets it: the
    row lock of the UPDATE orders them and the others find it `sending`."""
    try:
        pk = UUID(str(message_id))
    except ValueError:
        return None
    db = connections[Message.objects.db]
    moment = Message._meta.get_field("updated_at").get_db_prep_value(now, db)  # as the backend stores it
    params = [MessageStatus.SENDING, moment, moment, Message._meta.pk.get_db_prep_value(pk, db)]
    params += [Direction.OUTBOUND, MessageStatus.QUEUED]
    # Outside a transaction the statement commits by itself (autocommit), like the ORM's update() did.
    return next(iter(Message.objects.raw(_CLAIM_SQL, params)), None)


def message_deliver(*, message_id: UUID | str) -> DeliveryOutcome:
    """Send one queued outbound message. Returns what happened: `sent`, `skipped` (not queued any more, or gone),
    `failed`, or `retry` with the delay the caller should wait before waking it again."""
    now = timezone.now()
    message = _claim(message_id=message_id, now=now)
    if message is None:
        return DeliveryOutcome("skipped")
    max_age = settings.MESSAGE_SENSITIVE_MAX_AGE_SECONDS
    if message.is_sensitive and max_age and message.queued_at and message.queued_at < now - timedelta(seconds=max_age):
        return _fail(message, code="expired", detail="Not sent: the one-time code expired while it waited.")
    backend = delivery_backend_for(message.channel)
    if message.error_code == SEND_UNCERTAIN and isinstance(backend, LookupBackend):
        try:
            found = _lookup(backend, message)
        except TransientSendError as exc:
            return _retry_later(message, exc, uncertain=True)
        except PermanentSendError as exc:
            return _fail(message, code=exc.code, detail=exc.detail)
        if found is not None:
            return _accepted(message, found, backend_name=backend.name)
    if message.send_attempts > settings.MESSAGE_MAX_SEND_ATTEMPTS:
        last = f" Last error: {message.error_message}" if message.error_message else ""
        return _fail(
            message,
            code="retries_exhausted",
            detail=f"Gave up after {message.send_attempts - 1} attempts.{last}"[:500],
        )
    try:
        result = backend.send(_outbound(message))
    except PermanentSendError as exc:
        return _fail(message, code=exc.code, detail=exc.detail)
    except UncertainSendError as exc:
        return _retry_later(message, exc, uncertain=True)
    except TransientSendError as exc:
        return _retry_later(message, exc, uncertain=False)
    except Exception as exc:
        # A bug or an unexpected library error after the request may have left: treat it as an uncertain send.
        logger.exception("message_delivery_error", extra={"message_id": str(message.pk)})
        return _retry_later(message, UncertainSendError(f"Unexpected {type(exc).__name__}"), uncertain=True)
    return _accepted(message, result, backend_name=backend.name)


# --- the sweeper ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    requeued: int
    recovered: int


def _queued_due(now: datetime) -> Q:
    """Queued rows whose wake-up call is overdue: never attempted and older than the sweep age, or attempted and past
    the longest backoff their attempt count allows (so the sweeper never cuts a backoff short)."""
    sweep_after = timedelta(seconds=settings.MESSAGE_SWEEP_QUEUED_AFTER_SECONDS)
    due = Q(send_attempts=0, updated_at__lt=now - sweep_after)
    attempts = 1
    while _retry_ceiling(attempts) < _retry_cap() and attempts < settings.MESSAGE_MAX_SEND_ATTEMPTS + 1:
        wait = max(sweep_after, timedelta(seconds=_retry_ceiling(attempts)))
        due |= Q(send_attempts=attempts, updated_at__lt=now - wait)
        attempts += 1
    due |= Q(send_attempts__gte=attempts, updated_at__lt=now - max(sweep_after, timedelta(seconds=_retry_cap())))
    return due


def message_sweep(*, limit: int | None = None, now: datetime | None = None) -> SweepReport:
    """Wake up outbound messages whose task was lost.

    1. `sending` without a provider id for longer than any send can last (the worker died mid-send): back to
       `queued`, marked `send_uncertain`, so the next attempt asks the provider before sending again.
    2. `queued` rows whose wake-up call is overdue (Redis was down when they committed, a retry could not be
       published): enqueued again.

    Batches of `limit`; rows are locked with SKIP LOCKED and stamped, so concurrent sweepers split the work and a row
    is not enqueued again before the sweep age passes."""
    now = now or timezone.now()
    limit = limit or settings.MESSAGE_SWEEP_BATCH_SIZE
    outbound = Message.objects.filter(direction=Direction.OUTBOUND, provider_message_id__isnull=True)
    stuck_before = now - timedelta(seconds=settings.MESSAGE_SENDING_TIMEOUT_SECONDS)
    with transaction.atomic():
        stuck = dict(
            outbound.filter(status=MessageStatus.SENDING, last_attempt_at__lt=stuck_before)
            .select_for_update(skip_locked=True)
            .order_by("last_attempt_at")
            .values_list("pk", "purpose")[:limit]
        )
        recovered = outbound.filter(pk__in=list(stuck), status=MessageStatus.SENDING).update(
            status=MessageStatus.QUEUED,
            error_code=SEND_UNCERTAIN,
            error_message="The worker stopped during the send; checking with the provider before sending again.",
            updated_at=now,
        )
        due = dict(
            outbound.filter(status=MessageStatus.QUEUED)
            .filter(_queued_due(now))
            .exclude(pk__in=list(stuck))
            .select_for_update(skip_locked=True)
            .order_by("updated_at")
            .values_list("pk", "purpose")[:limit]
        )
        outbound.filter(pk__in=list(due)).update(updated_at=now)
        # Each on the queue of its urgency, as message_send published it: a lost OTP does not wait behind bulk work.
        for message_id, purpose in [*stuck.items(), *due.items()]:
            enqueue_on_commit(message_deliver_task, str(message_id), urgency=message_urgency(purpose=purpose))
    if recovered or due:
        logger.info("message_sweep", extra={"requeued": len(due), "recovered": recovered})
    return SweepReport(requeued=len(due), recovered=recovered)


# --- the reconciler ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconcileReport:
    checked: int
    moved: int
    errors: int


def _twilio_backend():
    if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
        return None
    from ..providers.twilio import twilio_sms_backend

    return twilio_sms_backend()


def message_reconcile(*, message_id: UUID | str) -> bool:
    """Fetch an SMS's status from Twilio now and apply it with the forward-only rule of the status webhook.
    Returns whether the status moved. Raises Unavailable (not configured) or ProviderFailed when Twilio cannot be
    asked."""
    from contactcenter.common.domain import ProviderFailed, Unavailable

    from ..providers.twilio.statuses import message_status_from_twilio

    message = Message.objects.filter(pk=message_id).first()
    if message is None or not message.provider_message_id or message.provider != "twilio":
        return False
    backend = _twilio_backend()
    if backend is None:
        raise Unavailable("Twilio is not configured.", code="provider_not_configured")
    try:
        remote = backend.fetch(message.provider_message_id)
    except (TransientSendError, PermanentSendError) as exc:
        raise ProviderFailed(f"Twilio could not be asked: {exc.detail}", code="provider_unavailable") from exc
    status = message_status_from_twilio(remote.provider_status)
    if status is None:
        return False
    change = message_status_apply(
        message_id=message.pk,
        status=status,
        provider_status=remote.provider_status,
        error_code=remote.error_code if status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED) else "",
        error_message=remote.error_message if status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED) else "",
    )
    return change.applied


def sms_reconcile_candidates(
    *, older_than: timedelta, limit: int, now: datetime | None = None
) -> QuerySet[Message, UUID]:
    """Twilio SMS stuck in a non-final status (`sending`, `sent`) for longer than `older_than`, not checked within
    `older_than` either, and not older than SMS_RECONCILE_MAX_AGE_SECONDS (a carrier that never reports is not a
    failure: after that age we stop asking). Oldest first."""
    now = now or timezone.now()
    return (
        Message.objects.filter(
            channel=Channel.SMS,
            direction=Direction.OUTBOUND,
            provider="twilio",
            provider_message_id__isnull=False,
            status__in=(MessageStatus.SENDING, MessageStatus.SENT),
            status_changed_at__lt=now - older_than,
            updated_at__lt=now - older_than,
            created_at__gte=now - timedelta(seconds=settings.SMS_RECONCILE_MAX_AGE_SECONDS),
        )
        .order_by("updated_at")
        .values_list("pk", flat=True)[:limit]
    )


def sms_reconcile_run(*, older_than: timedelta, limit: int, dry_run: bool = False) -> ReconcileReport:
    """One batch of the reconciler. Rows are claimed with SKIP LOCKED and stamped before Twilio is asked (outside the
    transaction), so concurrent runs never fetch the same message twice in a row."""
    from contactcenter.common.domain import DomainError

    if dry_run:
        return ReconcileReport(
            checked=len(list(sms_reconcile_candidates(older_than=older_than, limit=limit))), moved=0, errors=0
        )
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            sms_reconcile_candidates(older_than=older_than, limit=limit, now=now).select_for_update(skip_locked=True)
        )
        Message.objects.filter(pk__in=ids).update(updated_at=now)
    moved = errors = 0
    for message_id in ids:
        try:
            moved += int(message_reconcile(message_id=message_id))
        except DomainError as exc:
            errors += 1
            logger.warning("sms_reconcile_error", extra={"message_id": str(message_id), "error": exc.code})
    if ids:
        logger.info("sms_reconcile", extra={"checked": len(ids), "moved": moved, "errors": errors})
    return ReconcileReport(checked=len(ids), moved=moved, errors=errors)


def sms_reconcile_stale(*, older_than: timedelta, limit: int) -> int:
    """The reconciler (beat and `manage.py reconcile_sms`): returns how many messages moved forward."""
    return sms_reconcile_run(older_than=older_than, limit=limit).moved
