"""The event ledger: store each authenticated delivery raw (its own committed transaction), apply it, replay it.

- `webhook_delivery_receive` stores one delivery under its unique (provider, idempotency key) and applies it at once;
  a second copy, also one arriving at the same moment, finds the key taken and changes nothing, unless the first
  copy's apply never finished (the event is still `received`, not locked by an apply in progress): then the second
  copy applies it. Exactly one copy applies an event; every other answers `duplicate`. The key is the provider's
  identity of the event; the sender's `X-Idempotency-Key` replaces it only where that identity is derived from the
  content (`delivery_identity`).
- `webhook_event_process` applies one stored event under a row lock; processed and ignored events are final, so
  running it twice (two replays, a replay racing a deferred apply) does the work once.
- Deferred Twilio status callbacks (the message's SID not recorded yet) are applied by `webhook_deferred_apply` when
  `message_provider_id_assigned` announces the SID, or by replay.
- `calls_reconcile` recovers calls whose post-call webhook never arrived, through the same ledger."""

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.actions import AuditAction
from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from contactcenter.common.db import advisory_xact_lock
from contactcenter.common.domain import DomainError, NotFound
from contactcenter.common.errors import DATABASE_ERRORS, database_error_is_transient
from contactcenter.common.parsers import json_storable
from interactions.providers.base import Identity, Outcome, PayloadUnreadable
from interactions.providers.elevenlabs import (
    POST_CALL_TRANSCRIPTION,
    ElevenLabsConversationsClient,
    conversation_as_webhook_payload,
)
from interactions.providers.elevenlabs.inbound import ElevenLabsInbound, elevenlabs_identity
from interactions.providers.registry import provider_get
from interactions.providers.twilio.inbound import TwilioInbound

from .counters import webhook_counter_increment
from .models import EventStatus, InteractionEvent

logger = logging.getLogger("webhooks")

FINAL_STATUSES = (EventStatus.PROCESSED, EventStatus.IGNORED)
REPLAYABLE_STATUSES = (EventStatus.FAILED, EventStatus.DEFERRED, EventStatus.RECEIVED)


@dataclass(frozen=True)
class Delivery:
    """One authenticated delivery, ready to be stored."""

    provider: str
    identity: Identity
    payload: dict | list
    content_type: str = ""
    headers: dict = field(default_factory=dict)
    signature_valid: bool | None = None
    remote_addr: str | None = None
    # The body as it came, when `payload` had to be changed to be stored (see contactcenter.common.parsers).
    raw_body: str | None = None
    # When it was received; default: when it is stored. The duplicate window of content-keyed events runs from it.
    received_at: datetime | None = None
    # The payload was made storable already (json_storable, as the webhook views do): not walked a second time.
    payload_storable: bool = False
    # What the provider's `read` made of the payload, handed to its `apply` so the payload is read once.
    record: object = None
    # The sender's own key for the delivery (`X-Idempotency-Key`), and the event's place in it (a batch's events share
    # the key): see `delivery_identity`.
    sender_key: str = ""
    event_index: int = 0
    event_count: int = 1


@dataclass(frozen=True)
class ReceiveResult:
    event_id: str
    status: str  # the event's status, or "duplicate"
    duplicate: bool


def _storable(value):
    """What PostgreSQL can store of `value`: NUL characters and lone surrogates become U+FFFD, NaN and infinite
    numbers null (the raw body, when it was authenticated, is kept beside it: `Delivery.raw_body`)."""
    return json_storable(value)[0]


SENDER_KEY_MAX_LENGTH = 200


def delivery_identity(delivery: Delivery) -> Identity:
    """The identity the delivery is stored under. The sender's key stands in only for an identity derived from the
    content (the provider gave the delivery no id of its own): a header no signature covers must never turn a
    replayed event into a new one. The events of a batch take the key numbered by their place in it."""
    sender_key = delivery.sender_key.strip()[:SENDER_KEY_MAX_LENGTH]
    identity = delivery.identity
    if not sender_key or not identity.content_keyed:
        return identity
    key = f"header:{sender_key}" if delivery.event_count == 1 else f"header:{sender_key}:{delivery.event_index}"
    return Identity(identity.event_type, key, identity.external_ref)


def _window_bucket(at: datetime, window_seconds: int) -> int:
    return math.floor(at.timestamp() / window_seconds)


@dataclass(frozen=True)
class _Stored:
    """What the ledger writes of one delivery, before its apply decides the rest (status, error, normalized…)."""

    provider: str
    event_type: str
    key: str  # the idempotency key (a content-keyed one without its time bucket)
    external_ref: str
    window_seconds: int
    apply_costly: bool
    content_type: str
    payload: object
    raw_body: str | None
    headers: dict
    signature_valid: bool | None
    remote_addr: str | None


def _stored(delivery: Delivery) -> _Stored:
    derived = delivery_identity(delivery)
    return _Stored(
        provider=delivery.provider,
        event_type=_storable(derived.event_type),
        key=_storable(derived.idempotency_key),
        external_ref=_storable(derived.external_ref),
        window_seconds=derived.window_seconds,
        apply_costly=derived.apply_costly,
        content_type=_storable(delivery.content_type[:100]),
        payload=delivery.payload if delivery.payload_storable else _storable(delivery.payload),
        raw_body=delivery.raw_body,
        headers=_storable(delivery.headers),
        signature_valid=delivery.signature_valid,
        remote_addr=delivery.remote_addr or None,
    )


def _window_keys(stored: _Stored, received_at: datetime) -> tuple[str, list[str]]:
    """(the key to store under, the keys an earlier copy in the window would have). A content-keyed identity with a
    duplicate window W is stored under its key plus the time bucket b = floor(t / W) of its reception; a copy received
    at t is a duplicate iff an event with the key of bucket b-1, b or b+1 was received less than W seconds from t:
    exact lookups on the unique index, the same answer on either side of a bucket's edge."""
    if not stored.window_seconds:
        return stored.key, [stored.key]
    bucket = _window_bucket(received_at, stored.window_seconds)
    return f"{stored.key}:{bucket}", [f"{stored.key}:{b}" for b in (bucket - 1, bucket, bucket + 1)]


def _window_lock(stored: _Stored) -> None:
    """Copies of one content are serialized by an advisory lock on it until the transaction ends: the unique index
    alone orders copies in one time bucket, the lock copies in adjacent ones."""
    if stored.window_seconds:
        advisory_xact_lock(f"webhooks.window:{stored.provider}:{stored.key}")


# One statement stores the applied delivery: the row is written once, with its outcome (never inserted, then updated).
# A taken key (ON CONFLICT) or, for a content-keyed identity, an earlier copy within its window (NOT EXISTS, read
# after the window lock) inserts nothing and returns no row: the caller rolls its apply back and answers `duplicate`.
_INSERT_SQL = """
INSERT INTO webhooks_interactionevent (
    id, provider, event_type, idempotency_key, status, external_ref, content_type, payload, raw_body, headers,
    normalized, signature_valid, error, attempts, interaction_id, remote_addr, received_at, processed_at
)
SELECT %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s, %s::inet, %s, %s
WHERE NOT EXISTS (
    -- The fence (OFFSET 0) keeps the time range out of the index choice: the unique (provider, key) index, always.
    SELECT 1 FROM (
        SELECT received_at FROM webhooks_interactionevent WHERE provider = %s AND idempotency_key IN (%s, %s, %s) OFFSET 0
    ) AS earlier
    WHERE received_at > %s AND received_at < %s
)
ON CONFLICT (provider, idempotency_key) DO NOTHING
RETURNING id
"""


def _json(value: object) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder)


def _event_insert(
    *, stored: _Stored, received_at: datetime, outcome: Outcome, payload: object, raw_body: str | None
) -> UUID | None:
    """Insert the event with its outcome; its id, or None when an earlier copy holds the key (nothing inserted)."""
    key, window_keys = _window_keys(stored, received_at)
    event_id = uuid4()
    status = EventStatus(outcome.status)
    processed_at = timezone.now() if status in FINAL_STATUSES else None
    external_ref = (outcome.external_ref or stored.external_ref)[:128]
    error = _storable(outcome.error)
    normalized = _storable(outcome.normalized)
    if connection.vendor != "postgresql":
        return _event_insert_orm(
            stored=stored,
            event_id=event_id,
            key=key,
            window_keys=window_keys,
            received_at=received_at,
            status=status,
            external_ref=external_ref,
            error=error,
            normalized=normalized,
            outcome=outcome,
            payload=payload,
            raw_body=raw_body,
            processed_at=processed_at,
        )
    span = timedelta(seconds=stored.window_seconds)
    params = [
        event_id,
        stored.provider,
        stored.event_type,
        key,
        status.value,
        external_ref,
        stored.content_type,
        _json(payload),
        raw_body,
        _json(stored.headers),
        _json(normalized),
        stored.signature_valid,
        error,
        1,
        outcome.interaction_id,
        stored.remote_addr,
        received_at,
        processed_at,
        stored.provider,
        *(window_keys * 3)[:3],  # the key of each bucket around it (without a window, the one key three times)
        # No window: the NOT EXISTS looks at an empty time range (the unique key alone decides).
        received_at - span if stored.window_seconds else received_at,
        received_at + span if stored.window_seconds else received_at,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, params)
        row = cursor.fetchone()
    return row[0] if row else None


def _event_insert_orm(
    *, stored: _Stored, event_id: UUID, key: str, window_keys: list[str], received_at: datetime, **fields: Any
) -> UUID | None:
    """The same insert on databases other than PostgreSQL (SQLite, the local default, serializes writers)."""
    span = timedelta(seconds=stored.window_seconds)
    earlier = InteractionEvent.objects.filter(provider=stored.provider, idempotency_key__in=window_keys)
    if stored.window_seconds:
        earlier = earlier.filter(received_at__gt=received_at - span, received_at__lt=received_at + span)
    else:
        earlier = earlier.filter(idempotency_key=key)
    if earlier.exists():
        return None
    outcome: Outcome = fields["outcome"]
    InteractionEvent.objects.create(
        id=event_id,
        provider=stored.provider,
        event_type=stored.event_type,
        idempotency_key=key,
        status=fields["status"],
        external_ref=fields["external_ref"],
        content_type=stored.content_type,
        payload=fields["payload"],
        raw_body=fields["raw_body"],
        headers=stored.headers,
        normalized=fields["normalized"],
        signature_valid=stored.signature_valid,
        error=fields["error"],
        attempts=1,
        interaction_id=cast(UUID | None, outcome.interaction_id),
        remote_addr=stored.remote_addr,
        received_at=received_at,
        processed_at=fields["processed_at"],
    )
    return event_id


def _earlier_copy(stored: _Stored, received_at: datetime) -> InteractionEvent | None:
    """The event that made a delivery a duplicate: the one holding its key, or an earlier copy in its window."""
    _key, window_keys = _window_keys(stored, received_at)
    queryset = InteractionEvent.objects.filter(provider=stored.provider, idempotency_key__in=window_keys)
    if stored.window_seconds:
        span = timedelta(seconds=stored.window_seconds)
        queryset = queryset.filter(received_at__gt=received_at - span, received_at__lt=received_at + span)
    return queryset.order_by("received_at").only("pk", "status").first()


class _Duplicate(Exception):
    """Raised inside the receiving transaction to roll back the apply of a copy whose event was stored before."""


class _ApplyFailed(Exception):
    """Raised inside the receiving transaction to roll back a partial apply; the event is then stored failed."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.error)
        self.outcome = outcome


def _apply_guarded(*, provider_name: str, payload: Any, received_at: datetime, record: object = None) -> Outcome:
    """The provider's `apply`, its failures as a failed Outcome: what it cannot read, a domain error, a bug. A transient
    database error (a deadlock, a lost connection) is raised: nothing is stored, the provider gets a 503 and retries.
    Runs in the caller's transaction, with no savepoint of its own: a failure must roll the caller back."""
    provider = provider_get(provider_name)
    if provider is None:
        return Outcome(EventStatus.FAILED, error=f"no adapter for provider {provider_name!r}")
    try:
        return provider.apply(payload=payload, received_at=received_at, record=record)
    except PayloadUnreadable as exc:
        return Outcome(EventStatus.FAILED, error=str(exc))
    except DomainError as exc:
        return Outcome(EventStatus.FAILED, error=exc.detail)
    except DATABASE_ERRORS as exc:
        if database_error_is_transient(exc):
            raise
        logger.exception("webhook_apply_error", extra={"provider": provider_name})
        return Outcome(EventStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
    except Exception as exc:  # a bug must not lose the delivery: it is stored failed, for replay
        logger.exception("webhook_apply_error", extra={"provider": provider_name})
        return Outcome(EventStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])


def _apply(event: InteractionEvent, record: object = None) -> Outcome:
    """The provider's `apply` of a stored event, in a savepoint: a failure leaves the event's row as it was (failed,
    for replay)."""
    sid = transaction.savepoint()
    outcome = _apply_guarded(
        provider_name=event.provider, payload=event.payload, received_at=event.received_at, record=record
    )
    if outcome.status == EventStatus.FAILED:
        transaction.savepoint_rollback(sid)
    else:
        transaction.savepoint_commit(sid)
    return outcome


def webhook_event_process(*, event_id: UUID | str) -> str:
    """Apply one stored event; returns its status afterwards. Processed and ignored events are left as they are."""
    return _event_process(event_id=event_id)[0]


def _event_process(
    *, event_id: UUID | str, only_if_unapplied: bool = False, skip_locked: bool = False, record: object = None
) -> tuple[str, bool]:
    """(status afterwards, whether this call applied it). With `only_if_unapplied`, only an event still `received`
    (stored, never applied) is applied. With `skip_locked`, an event another process is applying right now is left
    to it (answered `received`, not applied) instead of waited for. `record`: what the provider read of the stored
    payload on its way in (None: the provider reads the stored payload)."""
    with transaction.atomic():
        event = InteractionEvent.objects.select_for_update(skip_locked=skip_locked).filter(pk=event_id).first()
        if event is None:
            if skip_locked and InteractionEvent.objects.filter(pk=event_id).exists():
                return EventStatus.RECEIVED, False
            raise NotFound("No such webhook event.", code="not_found")
        if event.status in FINAL_STATUSES:
            return event.status, False
        if only_if_unapplied and event.status != EventStatus.RECEIVED:
            return event.status, False
        if event.redacted_at is not None:
            # Retention scrubbed its payload: applying it would write masked data over real records. Left as it is.
            return event.status, False
        outcome = _apply(event, record)
        event.status = EventStatus(outcome.status)
        event.error = _storable(outcome.error)  # an exception's text may quote the payload
        event.normalized = _storable(outcome.normalized)
        event.attempts += 1
        fields = ["status", "error", "normalized", "attempts"]
        if outcome.interaction_id:
            event.interaction_id = outcome.interaction_id  # type: ignore[assignment]  # an interaction's id
            fields.append("interaction")
        if outcome.external_ref:
            event.external_ref = outcome.external_ref[:128]
            fields.append("external_ref")
        if outcome.payload is not None:
            event.payload = outcome.payload
            fields.append("payload")
            if event.raw_body is not None:
                # The payload was replaced because its bulk lives elsewhere now (post-call audio saved as a file):
                # a raw copy of the body would keep the bulk in the ledger.
                event.raw_body = None
                fields.append("raw_body")
        if outcome.status in FINAL_STATUSES:
            event.processed_at = timezone.now()
            fields.append("processed_at")
        event.save(update_fields=fields)
    webhook_counter_increment(provider=event.provider, name=event.status)
    return event.status, True


def _key_for_log(key: str) -> str:
    """A key taken from a client's `X-Idempotency-Key` is whatever the client wrote (a number, a token): logged as
    its hash. Keys we derive (ids, SIDs, content hashes) are logged as they are (the scrub filter masks numbers)."""
    if key.startswith("header:"):
        return "header:sha256:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return key


def _log_delivery(*, provider: str, event_type: str, key: str, outcome: str, started: float, event_id: str) -> None:
    level = logging.WARNING if outcome == EventStatus.FAILED else logging.INFO
    if not logger.isEnabledFor(level):
        return
    logger.log(
        level,
        "webhook_delivery",
        extra={
            "provider": provider,
            "event_type": event_type,
            "idempotency_key": _key_for_log(key),
            "outcome": outcome,
            "event_id": event_id,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )


def webhook_delivery_receive(*, delivery: Delivery) -> ReceiveResult:
    """Apply the delivery and store it, with its outcome, in one transaction (fast, no queue involved). The copy that
    stores the event answers its status; every other copy answers `duplicate` and changes nothing.

    Stored before applied in the sense that matters: the answer (the provider's 2xx) comes after the commit, so a
    delivery answered 2xx is stored, and one whose transaction did not commit was not answered 2xx and comes again.
    The apply runs first, with no savepoint; the event is then inserted once with its outcome. A copy whose key is
    taken rolls its apply back (`duplicate`); an apply that fails is rolled back and the delivery stored `failed`
    with its error, for replay. A repeat of an event stored `received` and never applied (by an earlier version of
    this path, or cut short) applies it."""
    started = time.perf_counter()
    stored = _stored(delivery)
    provider = delivery.provider
    received_at = delivery.received_at
    if stored.apply_costly and _earlier_copy(stored, received_at or timezone.now()) is not None:
        # A repeat of a delivery whose apply is expensive is answered from the ledger before any work.
        return _duplicate_answer(stored=stored, received_at=received_at or timezone.now(), started=started)
    try:
        with transaction.atomic():
            _window_lock(stored)
            # Read after the lock: copies of one content are then stored in the order of their times.
            received_at = received_at or timezone.now()
            outcome = _apply_guarded(
                provider_name=provider, payload=delivery.payload, received_at=received_at, record=delivery.record
            )
            if outcome.status == EventStatus.FAILED:
                raise _ApplyFailed(outcome)
            event_id = _event_insert(
                stored=stored,
                received_at=received_at,
                outcome=outcome,
                payload=outcome.payload if outcome.payload is not None else stored.payload,
                raw_body=None if outcome.payload is not None else stored.raw_body,
            )
            if event_id is None:
                raise _Duplicate()
    except _Duplicate:
        return _duplicate_answer(stored=stored, received_at=received_at or timezone.now(), started=started)
    except _ApplyFailed as failed:
        outcome = failed.outcome
        with transaction.atomic():
            _window_lock(stored)
            event_id = _event_insert(
                stored=stored,
                received_at=received_at or timezone.now(),
                outcome=outcome,
                payload=stored.payload,
                raw_body=stored.raw_body,
            )
        if event_id is None:  # a copy stored meanwhile (its apply may have raced ours)
            return _duplicate_answer(stored=stored, received_at=received_at or timezone.now(), started=started)
    status = EventStatus(outcome.status)
    webhook_counter_increment(provider=provider, name=status)
    _log_delivery(
        provider=provider,
        event_type=stored.event_type,
        key=stored.key,
        outcome=status,
        started=started,
        event_id=str(event_id),
    )
    if status == EventStatus.DEFERRED and outcome.external_ref:
        # What it waits for may have been recorded while this transaction ran (and missed it): look once more, now
        # that the event is visible to whoever records it later.
        _deferred_recheck(provider=provider, external_ref=outcome.external_ref)
    return ReceiveResult(str(event_id), status, False)


def _duplicate_answer(*, stored: _Stored, received_at: datetime, started: float) -> ReceiveResult:
    earlier = _earlier_copy(stored, received_at)
    if earlier is None:  # cannot be: the key was taken. Answered as a duplicate all the same (nothing changed).
        event_id = ""
    else:
        event_id = str(earlier.pk)
        if earlier.status == EventStatus.RECEIVED:
            # Stored and never applied: this copy applies it, unless another process is applying it right now.
            status, applied = _event_process(event_id=earlier.pk, only_if_unapplied=True, skip_locked=True)
            if applied:
                _log_delivery(
                    provider=stored.provider,
                    event_type=stored.event_type,
                    key=stored.key,
                    outcome=status,
                    started=started,
                    event_id=event_id,
                )
                return ReceiveResult(event_id, status, False)
    webhook_counter_increment(provider=stored.provider, name="duplicate")
    _log_delivery(
        provider=stored.provider,
        event_type=stored.event_type,
        key=stored.key,
        outcome="duplicate",
        started=started,
        event_id=event_id,
    )
    return ReceiveResult(event_id, "duplicate", True)


def _deferred_recheck(*, provider: str, external_ref: str) -> None:
    if provider != TwilioInbound.name:
        return
    try:
        webhook_deferred_apply(provider_message_id=external_ref)
    except DATABASE_ERRORS:  # stays deferred: the assignment's own check, the sweep or a replay applies it
        logger.warning("webhook_deferred_recheck_failed", extra={"provider": provider})


def webhook_events_unapplied_sweep(*, older_than: timedelta, limit: int) -> int:
    """Apply events stored but never applied, older than `older_than` (at most `limit`, oldest first): what the
    provider's retry would have done. An event being applied right now is skipped; one whose payload retention has
    scrubbed is never applied. Returns how many this run applied. Safe to run twice, and beside live deliveries."""
    cutoff = timezone.now() - older_than
    event_ids = list(
        InteractionEvent.objects.filter(status=EventStatus.RECEIVED, received_at__lt=cutoff, redacted_at__isnull=True)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    applied_count = 0
    for event_id in event_ids:
        status, applied = _event_process(event_id=event_id, only_if_unapplied=True, skip_locked=True)
        if applied:
            applied_count += 1
            logger.info("webhook_event_swept", extra={"event_id": str(event_id), "outcome": status})
    return applied_count


# --- replay -------------------------------------------------------------------------------------------------------
def webhook_event_replay(*, event_id: UUID | str, actor: Actor) -> str:
    """Apply a failed, deferred or unapplied event again; returns its status after the replay. Idempotent: an event
    already processed (or ignored) is left alone and its status returned."""
    with transaction.atomic():
        event = InteractionEvent.objects.filter(pk=event_id).only("pk", "status", "provider").first()
        if event is None:
            raise NotFound("No such webhook event.", code="not_found")
        previous = event.status
        status = webhook_event_process(event_id=event_id)
        if previous not in FINAL_STATUSES:
            audit_log_record(
                actor=actor,
                action=AuditAction.WEBHOOK_EVENT_REPLAYED,
                target_type="webhook_event",
                target_id=event_id,
                data={"provider": event.provider, "previous_status": previous, "status": status},
            )
    logger.info(
        "webhook_replayed",
        extra={"provider": event.provider, "event_id": str(event_id), "previous": previous, "outcome": status},
    )
    return status


def webhook_events_select(
    *,
    ids: list | None = None,
    provider: str | None = None,
    statuses: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[InteractionEvent]:
    """Events to replay, oldest first. Without ids or statuses: the failed ones."""
    queryset = InteractionEvent.objects.all()
    if ids:
        queryset = queryset.filter(pk__in=ids)
    if provider:
        queryset = queryset.filter(provider=provider)
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    elif not ids:
        queryset = queryset.filter(status=EventStatus.FAILED)
    if since:
        queryset = queryset.filter(received_at__gte=since)
    if until:
        queryset = queryset.filter(received_at__lt=until)
    return queryset.order_by("received_at", "id")


# --- deferred Twilio status callbacks -----------------------------------------------------------------------------
def webhook_deferred_apply(*, provider_message_id: str) -> int:
    """Apply the status callbacks kept for a message SID that was not recorded when they came. Returns how many were
    applied. Events still being stored or applied by their own request are included: the row lock orders them."""
    event_ids = list(
        InteractionEvent.objects.filter(
            provider=TwilioInbound.name,
            external_ref=provider_message_id,
            status__in=(EventStatus.DEFERRED, EventStatus.RECEIVED),
        )
        .order_by("received_at", "id")
        .values_list("pk", flat=True)
    )
    applied = 0
    for event_id in event_ids:
        if webhook_event_process(event_id=event_id) == EventStatus.PROCESSED:
            applied += 1
    if event_ids:
        logger.info(
            "webhook_deferred_applied",
            extra={"provider": TwilioInbound.name, "events": len(event_ids), "applied": applied},
        )
    return applied


# --- call reconciliation ------------------------------------------------------------------------------------------
@dataclass
class ReconcileReport:
    listed: int = 0
    known: int = 0
    not_finished: int = 0
    recovered: int = 0
    failed: int = 0
    dry_run: bool = False
    conversation_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "listed": self.listed,
            "known": self.known,
            "not_finished": self.not_finished,
            "recovered": self.recovered,
            "failed": self.failed,
            "dry_run": self.dry_run,
        }


def _conversations_client() -> ElevenLabsConversationsClient:
    return ElevenLabsConversationsClient(api_key=settings.ELEVENLABS_API_KEY, base_url=settings.ELEVENLABS_API_BASE_URL)


def calls_reconcile(
    *,
    since: datetime,
    until: datetime | None = None,
    dry_run: bool = False,
    client: ElevenLabsConversationsClient | None = None,
) -> ReconcileReport:
    """List the conversations ElevenLabs has since `since`, and fetch and apply, through the ledger, each finished one
    whose post-call transcription we never received. Raises ElevenLabsApiError when the API cannot be used."""
    client = client or _conversations_client()
    report = ReconcileReport(dry_run=dry_run)
    for summary in client.conversations_list(since=since, until=until):
        report.listed += 1
        if summary.status not in ("done", "failed"):
            report.not_finished += 1
            continue
        known = InteractionEvent.objects.filter(
            provider=ElevenLabsInbound.name, event_type=POST_CALL_TRANSCRIPTION, external_ref=summary.conversation_id
        ).exists()
        if known:
            report.known += 1
            continue
        report.conversation_ids.append(summary.conversation_id)
        if dry_run:
            continue
        payload = conversation_as_webhook_payload(client.conversation_get(summary.conversation_id))
        result = webhook_delivery_receive(
            delivery=Delivery(
                provider=ElevenLabsInbound.name,
                identity=elevenlabs_identity(payload),
                payload=payload,
                content_type="application/json",
                headers={"X-Source": "reconcile_calls"},
            )
        )
        if result.duplicate:  # the webhook arrived meanwhile
            report.known += 1
        elif result.status == EventStatus.PROCESSED:
            report.recovered += 1
        else:
            report.failed += 1
    logger.info("calls_reconciled", extra=report.as_dict())
    return report
