"""OTP challenges: request (create and send), verify, cancel, expire and purge.

The rules that must hold under concurrency are enforced by the database:
- rate limits count rows under a PostgreSQL advisory lock per phone (and per client), taken before the count and held
  until commit, so concurrent requests are counted one after the other;
- a wrong code is counted by one conditional UPDATE (`attempts < max_attempts AND status = 'pending'`), so concurrent
  guesses can never exceed the limit;
- a right code approves by one conditional UPDATE (`status = 'pending'`), so it works once;
- at most one pending challenge per phone and purpose (a partial unique constraint); a new one cancels the old.
The code exists in clear only in this transaction and in the SMS body (which the messaging worker replaces by a
marker once sent); the challenge keeps an HMAC of it.
"""

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from audit.actions import AuditAction
from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from contactcenter.common.db import advisory_xact_lock
from contactcenter.common.domain import IdempotencyKeyReused, InvalidInput, LimitReached, NotFound
from contactcenter.common.pii import (
    InvalidPhoneNumber,
    phone_country_code,
    phone_hash,
    phone_is_premium_or_shared,
    phone_mask,
    phone_normalize,
    phone_written_international,
)
from interactions.models import Interaction
from interactions.services import interaction_verified_mark, message_send

from . import codes
from .limits import client_counter_increment
from .models import OtpChallenge, OtpClientCounter, OtpIdempotencyRecord, OtpStatus
from .selectors import challenge_public_dict

logger = logging.getLogger(__name__)

PURGE_BATCH_SIZE = 1000
# On the row as it is before the UPDATE (PostgreSQL evaluates SET against the old row): one more wrong code locks it.
_LOCKS_ON_THIS_ATTEMPT = Q(attempts__gte=F("max_attempts") - 1)


class OtpRateLimited(LimitReached):
    """Too many challenges (per phone and purpose, per phone, or per client), or verifications (per client); the
    request may succeed after `retry_after` seconds."""


@dataclass(frozen=True)
class OtpRequestResult:
    """A created challenge: `body` is its public form (what an idempotent retry returns again), `replayed` whether
    this was such a retry (nothing new was created or sent)."""

    challenge: OtpChallenge | None
    body: dict
    replayed: bool = False


class OtpVerifyOutcome(StrEnum):
    APPROVED = "approved"  # this verification approved the challenge
    WRONG_CODE = "wrong_code"  # a wrong code (or context) spent one attempt; attempts remain
    LOCKED = "locked"  # a wrong code spent the last attempt: the challenge is now `max_attempts`
    CLOSED = "closed"  # the challenge could no longer be verified; `status` says why (approved, expired…)


@dataclass(frozen=True)
class OtpVerifyResult:
    """The outcome of a verification: what happened, the challenge's status afterwards and, after a wrong code, the
    attempts left."""

    outcome: OtpVerifyOutcome
    status: str
    challenge: OtpChallenge | None = None
    attempts_remaining: int | None = None

    @property
    def verified(self) -> bool:
        return self.outcome == OtpVerifyOutcome.APPROVED


# --- input -----------------------------------------------------------------------------------------------------------


def _phone_clean(phone: str, *, typed: bool = False) -> str:
    """The canonical number to text, or InvalidInput. `typed`: a person or a client typed it (the API), so it
    must be written internationally (`+` or `00`): a number a provider reports is international by construction."""
    if typed and not phone_written_international(phone):
        raise InvalidInput(
            "Enter the number in international format, with + and the country code (E.164).",
            code="invalid_phone",
            attr="phone",
        )
    try:
        e164 = phone_normalize(phone)
    except InvalidPhoneNumber as exc:
        raise InvalidInput("Enter a phone number in E.164 format.", code="invalid_phone", attr="phone") from exc
    allowed = [country.upper() for country in settings.OTP_ALLOWED_COUNTRIES]
    if allowed and phone_country_code(e164) not in allowed:
        raise InvalidInput("Codes cannot be sent to numbers of this country.", code="country_not_allowed", attr="phone")
    if phone_is_premium_or_shared(e164):
        raise InvalidInput(
            "Codes cannot be sent to premium-rate, shared-cost or toll-free numbers.",
            code="number_not_allowed",
            attr="phone",
        )
    return e164


PURPOSE_RE = re.compile(r"^[a-z0-9_.\-]{1,32}$")


def _purpose_clean(purpose: object) -> str:
    """With OTP_PURPOSES set, one of them; unset, any slug (as the earlier backend took)."""
    allowed = settings.OTP_PURPOSES
    if allowed:
        if not isinstance(purpose, str) or purpose not in allowed:
            raise InvalidInput(
                f"Unknown purpose; use one of: {', '.join(allowed)}.", code="invalid_purpose", attr="purpose"
            )
        return purpose
    if not isinstance(purpose, str) or not PURPOSE_RE.match(purpose):
        raise InvalidInput(
            "The purpose must be 1 to 32 lowercase letters, digits, `_`, `-` or `.`.",
            code="invalid_purpose",
            attr="purpose",
        )
    return purpose


def _language_clean(language: str | None) -> str:
    language = (language or settings.OTP_DEFAULT_LANGUAGE or "en").strip().lower().replace("_", "-").split("-")[0]
    if language not in codes.sms_languages():
        raise InvalidInput(
            f"Unsupported language; use one of: {', '.join(codes.sms_languages())}.",
            code="invalid_language",
            attr="language",
        )
    return language


def _context_clean(context: object) -> dict | None:
    if context is None:
        return None
    if not isinstance(context, dict):
        raise InvalidInput("The context must be a JSON object.", code="invalid_context", attr="context")
    if len(codes.context_canonical(context).encode()) > codes.CONTEXT_MAX_BYTES:
        raise InvalidInput(
            f"The context is larger than {codes.CONTEXT_MAX_BYTES} bytes.", code="invalid_context", attr="context"
        )
    return context


# --- request ---------------------------------------------------------------------------------------------------------


def otp_request(
    *,
    phone: str,
    purpose: str,
    actor: Actor,
    language: str = "",
    context: dict | None = None,
    conversation_id: str = "",
    interaction: Interaction | None = None,
    idempotency_key: str | None = None,
    client_id: str = "",
    ip_address: str | None = None,
    phone_typed: bool = False,
) -> OtpRequestResult:
    """Create a challenge for `phone` and `purpose` and queue its SMS, in one transaction.

    Refuses (InvalidInput) a bad phone, purpose, language or context and a number outside OTP_ALLOWED_COUNTRIES;
    raises OtpRateLimited past the per-client limit, the per-phone-and-purpose limit or the minimum interval. Cancels
    the pending challenge of the same phone and purpose. With `idempotency_key`, a repeated request of the same client
    and the same fields returns the first result (and sends nothing); other fields under the same key are
    IdempotencyKeyReused.
    `interaction` and `conversation_id` tie the challenge to the contact it was sent for (a voice call…)."""
    e164 = _phone_clean(phone, typed=phone_typed)
    purpose = _purpose_clean(purpose)
    language = _language_clean(language)
    context = _context_clean(context)
    conversation_id = (conversation_id or "")[:128]
    client_id = (client_id or f"{actor.type}:{actor.id or actor.label}")[:150]
    codes.code_length()  # a misconfigured length fails before anything is written

    with transaction.atomic():
        fingerprint = ""
        if idempotency_key:
            fingerprint = codes.request_fingerprint(
                phone=e164,
                purpose=purpose,
                language=language,
                context=codes.context_canonical(context),
                conversation_id=conversation_id,
                interaction=str(interaction.pk) if interaction else "",
            )
            advisory_xact_lock(f"otp-idempotency:{client_id}:{idempotency_key}")
            replay = _idempotent_replay(client_id=client_id, key=idempotency_key, fingerprint=fingerprint)
            if replay is not None:
                return replay

        # Locks in one order everywhere (idempotency key, client, phone): no deadlocks. `now` is read after them,
        # so a request that waited counts what the one before it committed.
        if settings.OTP_CLIENT_RATE_LIMIT_MAX > 0:
            advisory_xact_lock(f"otp-client:{client_id}")
        advisory_xact_lock(f"otp:{e164}")
        now = timezone.now()
        _limits_check(e164=e164, purpose=purpose, client_id=client_id, now=now)

        challenge_id = uuid.uuid4()
        replaced = _pending_cancel(e164=e164, purpose=purpose, client_id=client_id, now=now)
        code = codes.code_generate()
        challenge = OtpChallenge.objects.create(
            id=challenge_id,
            phone=e164,
            phone_hash=phone_hash(e164),
            purpose=purpose,
            code_hash=codes.code_hash(challenge_id=challenge_id, code=code),
            max_attempts=settings.OTP_MAX_ATTEMPTS,
            expires_at=now + timedelta(seconds=settings.OTP_TTL_SECONDS),
            language=language,
            context_hash=codes.context_hash(challenge_id=challenge_id, context=context),
            interaction=interaction,
            conversation_id=conversation_id,
            requested_by=str(actor.label)[:150],
            client_id=client_id,
        )
        challenge.message = message_send(
            channel="sms",
            phone=e164,
            body=codes.sms_body(purpose=purpose, language=language, code=code),
            purpose="otp",
            is_sensitive=True,
            actor=actor,
        )
        del code
        challenge.save(update_fields=["message", "updated_at"])
        # Audit records last: appending one holds the audit chain's lock until commit, so no other lock may be taken
        # after it (message_send takes the conversation's).
        for replaced_id in replaced:
            audit_log_record(
                actor=actor,
                action=AuditAction.OTP_CANCELED,
                target_type="otp_challenge",
                target_id=replaced_id,
                data={
                    "phone": phone_mask(e164),
                    "purpose": purpose,
                    "reason": "replaced",
                    "replaced_by": str(challenge_id),
                },
                ip_address=ip_address,
            )
        audit_log_record(
            actor=actor,
            action=AuditAction.OTP_CREATED,
            target_type="otp_challenge",
            target_id=challenge.pk,
            data={
                "phone": phone_mask(e164),
                "purpose": purpose,
                "language": language,
                "client": client_id,
                "message": str(challenge.message_id),
                "interaction": str(interaction.pk) if interaction else "",
                "conversation_id": conversation_id,
                "context_bound": context is not None,
                "expires_at": challenge.expires_at.isoformat(),
            },
            ip_address=ip_address,
        )
        body = challenge_public_dict(challenge)
        if idempotency_key:
            OtpIdempotencyRecord.objects.create(
                client_id=client_id,
                key=idempotency_key,
                request_hash=fingerprint,
                status_code=201,  # a column of the stored answer; the API answers every create, first or replayed, 201
                response_body=body,
                challenge=challenge,
            )
    logger.info(
        "otp_requested",
        extra={"challenge_id": str(challenge.pk), "purpose": purpose, "phone": phone_mask(e164), "client": client_id},
    )
    return OtpRequestResult(challenge=challenge, body=body)


def _idempotent_replay(*, client_id: str, key: str, fingerprint: str) -> OtpRequestResult | None:
    record = OtpIdempotencyRecord.objects.select_related("challenge").filter(client_id=client_id, key=key).first()
    if record is None:
        return None
    if record.created_at < timezone.now() - timedelta(seconds=settings.OTP_IDEMPOTENCY_TTL_SECONDS):
        record.delete()  # remembered long enough: the key may start afresh
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request.", code="idempotency_key_reused"
        )
    return OtpRequestResult(challenge=record.challenge, body=record.response_body, replayed=True)


def _limits_check(*, e164: str, purpose: str, client_id: str, now: datetime) -> None:
    """Raise OtpRateLimited when a limit is reached. Called under the client and phone locks."""
    if settings.OTP_CLIENT_RATE_LIMIT_MAX > 0:
        _window_check(
            OtpChallenge.objects.filter(client_id=client_id),
            limit=settings.OTP_CLIENT_RATE_LIMIT_MAX,
            window=settings.OTP_CLIENT_RATE_LIMIT_WINDOW_SECONDS,
            now=now,
            detail="This client has requested too many codes; try again later.",
            code="client_rate_limited",
            log_fields={"client": client_id},
        )
    # Per client: one client can neither use up another's limits for a number nor learn, from its own 429, how many
    # codes others sent it (the client's own limit above caps what any one client can send in all).
    _window_check(
        OtpChallenge.objects.filter(phone=e164, purpose=purpose, client_id=client_id),
        limit=settings.OTP_RATE_LIMIT_MAX,
        window=settings.OTP_RATE_LIMIT_WINDOW_SECONDS,
        now=now,
        detail="Too many codes for this phone number; try again later.",
        code="rate_limited",
        log_fields={"phone": phone_mask(e164), "purpose": purpose},
    )
    if settings.OTP_PHONE_RATE_LIMIT_MAX > 0:
        # Every purpose together: purposes are free slugs, so a per-purpose limit alone would let one client text a
        # number without end by varying the purpose.
        _window_check(
            OtpChallenge.objects.filter(phone=e164, client_id=client_id),
            limit=settings.OTP_PHONE_RATE_LIMIT_MAX,
            window=settings.OTP_RATE_LIMIT_WINDOW_SECONDS,
            now=now,
            detail="Too many codes for this phone number; try again later.",
            code="rate_limited",
            log_fields={"phone": phone_mask(e164), "rule": "phone_all_purposes"},
        )
    interval = settings.OTP_MIN_INTERVAL_SECONDS
    if interval > 0:
        last = (
            OtpChallenge.objects.filter(phone=e164, client_id=client_id)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
        )
        last_at = last.first()
        if last_at is not None and last_at > now - timedelta(seconds=interval):
            logger.warning("otp_rate_limited", extra={"rule": "min_interval", "phone": phone_mask(e164)})
            raise OtpRateLimited(
                "A code was just sent to this phone number; wait before asking again.",
                retry_after=(last_at + timedelta(seconds=interval) - now).total_seconds(),
                code="too_soon",
            )


def _window_check(
    queryset: QuerySet, *, limit: int, window: int, now: datetime, detail: str, code: str, log_fields: dict
) -> None:
    recent = queryset.filter(created_at__gt=now - timedelta(seconds=window))
    count = recent.count()
    if count < limit:
        return
    # Enough of the counted challenges must leave the window to bring the count under the limit.
    freeing = recent.order_by("created_at").values_list("created_at", flat=True)[count - limit]
    logger.warning("otp_rate_limited", extra={"rule": code, **log_fields})
    raise OtpRateLimited(detail, retry_after=(freeing + timedelta(seconds=window) - now).total_seconds(), code=code)


def _pending_cancel(*, e164: str, purpose: str, client_id: str, now: datetime) -> list:
    """Cancel the client's own pending challenge of the phone and purpose (a new one replaces it; another client's
    stays: no client can cancel another's). Returns the ids canceled; the caller audits them once its other work is
    done."""
    pending = list(
        OtpChallenge.objects.select_for_update().filter(
            phone=e164, purpose=purpose, client_id=client_id, status=OtpStatus.PENDING
        )
    )
    for challenge in pending:
        OtpChallenge.objects.filter(pk=challenge.pk, status=OtpStatus.PENDING).update(
            status=OtpStatus.CANCELED, closed_at=now, updated_at=now
        )
    return [challenge.pk for challenge in pending]


# --- verify ----------------------------------------------------------------------------------------------------------


def otp_verify(
    *,
    code: str,
    actor: Actor,
    challenge_id: uuid.UUID | str | None = None,
    phone: str | None = None,
    purpose: str | None = None,
    context: dict | None = None,
    conversation_id: str | None = None,
    client_id: str | None = None,
    ip_address: str | None = None,
) -> OtpVerifyResult:
    """Check `code` against a challenge (by id, or the latest of `phone` and `purpose`; both must agree when both
    are given) and, if it and the bound `context` match, approve it. Every outcome is an OtpVerifyResult; a challenge
    that does not exist or belongs to another client than `client_id` is NotFound (and spends nothing), a malformed
    code, phone or purpose InvalidInput (and spends nothing), a client past OTP_CLIENT_VERIFY_RATE_LIMIT_MAX
    verifications in the window OtpRateLimited.

    A wrong code (or context) counts one attempt atomically (WRONG_CODE); the attempt that reaches `max_attempts`
    locks the challenge (LOCKED). A right code approves at most once (APPROVED); a challenge that can no longer be
    verified is CLOSED, with its status."""
    code = codes.code_clean(code)  # type: ignore[assignment]  # None is refused just below
    if code is None:
        raise InvalidInput(f"The code is {codes.code_length()} digits.", code="invalid_code", attr="code")
    if client_id:
        _verify_limit_check(client_id=client_id)
    challenge = _challenge_find(
        challenge_id=challenge_id, phone=phone, purpose=purpose, conversation_id=conversation_id, client_id=client_id
    )
    now = timezone.now()
    if challenge.status == OtpStatus.PENDING and challenge.expires_at <= now:
        challenge = _challenge_expire(challenge=challenge, now=now, actor=actor, ip=ip_address)
    if challenge.status != OtpStatus.PENDING:
        return _closed_result(challenge=challenge, actor=actor, ip=ip_address)

    # Both comparisons always run, in constant time: the answer does not tell a wrong code from a wrong context.
    code_ok = codes.code_matches(challenge_id=challenge.pk, code=str(code or ""), stored_hash=challenge.code_hash)
    context_ok = codes.context_matches(challenge_id=challenge.pk, context=context, stored_hash=challenge.context_hash)
    open_rows = OtpChallenge.objects.filter(
        pk=challenge.pk, status=OtpStatus.PENDING, expires_at__gt=now, attempts__lt=F("max_attempts")
    )
    with transaction.atomic():
        if code_ok and context_ok:
            if open_rows.update(status=OtpStatus.APPROVED, approved_at=now, closed_at=now, updated_at=now):
                challenge.refresh_from_db()
                _approved_record(challenge=challenge, actor=actor, now=now, ip=ip_address)
                return OtpVerifyResult(
                    outcome=OtpVerifyOutcome.APPROVED, status=OtpStatus.APPROVED, challenge=challenge
                )
        else:
            locking = _LOCKS_ON_THIS_ATTEMPT
            if open_rows.update(
                attempts=F("attempts") + 1,
                status=Case(When(locking, then=Value(OtpStatus.MAX_ATTEMPTS)), default=Value(OtpStatus.PENDING)),
                closed_at=Case(When(locking, then=Value(now)), default=F("closed_at")),
                updated_at=now,
            ):
                challenge.refresh_from_db()
                return _wrong_code_record(challenge=challenge, actor=actor, ip=ip_address)
    # Another request closed it (or time ran out) between the read and the UPDATE.
    challenge.refresh_from_db()
    if challenge.status == OtpStatus.PENDING:
        challenge = _challenge_expire(challenge=challenge, now=now, actor=actor, ip=ip_address)
    return _closed_result(challenge=challenge, actor=actor, ip=ip_address)


def _verify_limit_check(*, client_id: str) -> None:
    limit = settings.OTP_CLIENT_VERIFY_RATE_LIMIT_MAX
    if limit <= 0:
        return
    count, retry_after = client_counter_increment(
        client_id=client_id, window_seconds=settings.OTP_CLIENT_RATE_LIMIT_WINDOW_SECONDS
    )
    if count > limit:
        logger.warning("otp_rate_limited", extra={"rule": "client_verify", "client": client_id})
        raise OtpRateLimited(
            "This client has made too many verifications; try again later.",
            retry_after=retry_after,
            code="client_rate_limited",
        )


def _not_found() -> NotFound:
    return NotFound("No such OTP challenge.", code="not_found")


def _challenge_find(
    *,
    challenge_id: uuid.UUID | str | None,
    phone: str | None,
    purpose: str | None,
    conversation_id: str | None,
    client_id: str | None = None,
) -> OtpChallenge:
    """The challenge to verify: by id, or the newest of the phone and purpose; only among `client_id`'s own
    challenges when it is given (another client's challenge is as if it did not exist)."""
    queryset = OtpChallenge.objects.select_related("message")
    if client_id:
        queryset = queryset.filter(client_id=client_id)
    if conversation_id:
        queryset = queryset.filter(conversation_id=conversation_id)
    e164 = None
    if phone:
        try:
            e164 = phone_normalize(phone)
        except InvalidPhoneNumber as exc:
            raise InvalidInput("Enter a phone number in E.164 format.", code="invalid_phone", attr="phone") from exc
    if purpose:
        purpose = _purpose_clean(purpose)
    if challenge_id:
        try:
            queryset = queryset.filter(pk=uuid.UUID(str(challenge_id)))
        except ValueError:
            raise _not_found() from None
        # Given together, the id and the phone (and purpose) must name the same challenge.
        if e164:
            queryset = queryset.filter(phone=e164)
        if purpose:
            queryset = queryset.filter(purpose=purpose)
        challenge = queryset.first()
    else:
        if not e164 or not purpose:
            raise InvalidInput("Give the challenge id, or the phone and purpose.", code="required", attr="id")
        # The newest challenge of the pair is the pending one, if any (a new challenge cancels the previous).
        challenge = queryset.filter(phone=e164, purpose=purpose).order_by("-created_at", "-id").first()
    if challenge is None:
        raise _not_found()
    return challenge


def _challenge_expire(*, challenge: OtpChallenge, now: datetime, actor: Actor, ip: str | None) -> OtpChallenge:
    with transaction.atomic():
        if OtpChallenge.objects.filter(pk=challenge.pk, status=OtpStatus.PENDING, expires_at__lte=now).update(
            status=OtpStatus.EXPIRED, closed_at=now, updated_at=now
        ):
            audit_log_record(
                actor=actor,
                action=AuditAction.OTP_EXPIRED,
                target_type="otp_challenge",
                target_id=challenge.pk,
                data={"phone": phone_mask(challenge.phone), "purpose": challenge.purpose},
                ip_address=ip,
            )
    challenge.refresh_from_db()
    return challenge


def _approved_record(*, challenge: OtpChallenge, actor: Actor, now: datetime, ip: str | None) -> None:
    if challenge.interaction_id:
        interaction_verified_mark(interaction_id=challenge.interaction_id, challenge_id=challenge.pk, at=now)
    audit_log_record(
        actor=actor,
        action=AuditAction.OTP_APPROVED,
        target_type="otp_challenge",
        target_id=challenge.pk,
        data={
            "phone": phone_mask(challenge.phone),
            "purpose": challenge.purpose,
            "attempts": challenge.attempts,
            "interaction": str(challenge.interaction_id or ""),
            "conversation_id": challenge.conversation_id,
        },
        ip_address=ip,
    )
    logger.info("otp_approved", extra={"challenge_id": str(challenge.pk), "purpose": challenge.purpose})


def _wrong_code_record(*, challenge: OtpChallenge, actor: Actor, ip: str | None) -> OtpVerifyResult:
    remaining = max(challenge.max_attempts - challenge.attempts, 0)
    data = {
        "phone": phone_mask(challenge.phone),
        "purpose": challenge.purpose,
        "reason": "wrong_code",
        "attempts": challenge.attempts,
        "attempts_remaining": remaining,
    }
    audit_log_record(
        actor=actor,
        action=AuditAction.OTP_VERIFY_FAILED,
        target_type="otp_challenge",
        target_id=challenge.pk,
        data=data,
        ip_address=ip,
    )
    logger.info("otp_verify_failed", extra={"challenge_id": str(challenge.pk), "attempts": challenge.attempts})
    if challenge.status == OtpStatus.MAX_ATTEMPTS:
        audit_log_record(
            actor=actor,
            action=AuditAction.OTP_LOCKED,
            target_type="otp_challenge",
            target_id=challenge.pk,
            data={"phone": data["phone"], "purpose": challenge.purpose, "attempts": challenge.attempts},
            ip_address=ip,
        )
        logger.warning("otp_locked", extra={"challenge_id": str(challenge.pk), "purpose": challenge.purpose})
        return OtpVerifyResult(
            outcome=OtpVerifyOutcome.LOCKED, status=OtpStatus.MAX_ATTEMPTS, challenge=challenge, attempts_remaining=0
        )
    return OtpVerifyResult(
        outcome=OtpVerifyOutcome.WRONG_CODE, status=OtpStatus.PENDING, challenge=challenge, attempts_remaining=remaining
    )


def _closed_result(*, challenge: OtpChallenge, actor: Actor, ip: str | None) -> OtpVerifyResult:
    audit_log_record(
        actor=actor,
        action=AuditAction.OTP_VERIFY_FAILED,
        target_type="otp_challenge",
        target_id=challenge.pk,
        data={"phone": phone_mask(challenge.phone), "purpose": challenge.purpose, "reason": challenge.status},
        ip_address=ip,
    )
    return OtpVerifyResult(outcome=OtpVerifyOutcome.CLOSED, status=challenge.status, challenge=challenge)


# --- cancel, delivery failure, expiry, purge -------------------------------------------------------------------------


def otp_cancel(
    *,
    challenge_id: uuid.UUID | str,
    actor: Actor,
    reason: str = "",
    client_id: str | None = None,
    ip_address: str | None = None,
) -> bool:
    """Cancel a pending challenge: its client (the API), or the back office (no `client_id`). Returns whether it was
    pending; a challenge of another client than `client_id` is NotFound."""
    now = timezone.now()
    with transaction.atomic():
        challenges = OtpChallenge.objects.select_for_update()
        if client_id:
            challenges = challenges.filter(client_id=client_id)
        challenge = challenges.filter(pk=challenge_id).first()
        if challenge is None and client_id:
            raise _not_found()
        if challenge is None or challenge.status != OtpStatus.PENDING:
            return False
        OtpChallenge.objects.filter(pk=challenge.pk).update(status=OtpStatus.CANCELED, closed_at=now, updated_at=now)
        audit_log_record(
            actor=actor,
            action=AuditAction.OTP_CANCELED,
            target_type="otp_challenge",
            target_id=challenge.pk,
            data={"phone": phone_mask(challenge.phone), "purpose": challenge.purpose, "reason": reason[:200]},
            ip_address=ip_address,
        )
    return True


def otp_delivery_failed(*, message_id: uuid.UUID | str) -> int:
    """The SMS of a challenge failed for good: a pending challenge it carried becomes `failed`. Returns how many.

    An SMS the carrier reported delivered (or read) reached the customer: a failure reported after it (a late or
    repeated delivery report) does not take the code away from them."""
    now = timezone.now()
    with transaction.atomic():
        failed = list(
            OtpChallenge.objects.select_for_update()
            .select_related("message")
            .filter(
                message_id=message_id,
                status=OtpStatus.PENDING,
                message__delivered_at__isnull=True,
                message__read_at__isnull=True,
            )
        )
        for challenge in failed:
            OtpChallenge.objects.filter(pk=challenge.pk).update(status=OtpStatus.FAILED, closed_at=now, updated_at=now)
            audit_log_record(
                actor=Actor.system("otp-delivery"),
                action=AuditAction.OTP_FAILED,
                target_type="otp_challenge",
                target_id=challenge.pk,
                data={
                    "phone": phone_mask(challenge.phone),
                    "purpose": challenge.purpose,
                    "message": str(message_id),
                    "error_code": challenge.message.error_code if challenge.message else "",
                },
            )
    return len(failed)


def otp_challenges_expire(*, now: datetime | None = None) -> int:
    """Mark every pending challenge past its expiry `expired` (verification does it too; this keeps the table and
    the metrics honest). Returns how many."""
    now = now or timezone.now()
    return OtpChallenge.objects.filter(status=OtpStatus.PENDING, expires_at__lte=now).update(
        status=OtpStatus.EXPIRED, closed_at=now, updated_at=now
    )


def otp_challenges_purge(*, older_than: timedelta, dry_run: bool = False, now: datetime | None = None) -> dict:
    """Expire what is overdue, then delete challenges created more than `older_than` ago and idempotency records
    past their time, in batches. With `dry_run`, count only. Returns the counts."""
    now = now or timezone.now()
    cutoff = now - older_than
    overdue = OtpChallenge.objects.filter(status=OtpStatus.PENDING, expires_at__lte=now)
    old = OtpChallenge.objects.filter(created_at__lt=cutoff)
    old_keys = OtpIdempotencyRecord.objects.filter(
        created_at__lt=min(cutoff, now - timedelta(seconds=settings.OTP_IDEMPOTENCY_TTL_SECONDS))
    )
    old_counters = OtpClientCounter.objects.filter(
        window_start__lt=now - timedelta(seconds=2 * settings.OTP_CLIENT_RATE_LIMIT_WINDOW_SECONDS)
    )
    if dry_run:
        return {"expired": overdue.count(), "deleted": old.count(), "idempotency_deleted": old_keys.count()}
    report = {"expired": otp_challenges_expire(now=now), "deleted": 0, "idempotency_deleted": 0}
    old_counters.delete()  # verification counts of windows long over (a few rows per client and window)
    for name, queryset in (("idempotency_deleted", old_keys), ("deleted", old)):
        while True:
            with transaction.atomic():
                batch: list = list(queryset.values_list("pk", flat=True)[:PURGE_BATCH_SIZE])
                if not batch:
                    break
                report[name] += (
                    queryset.model.objects.filter(pk__in=batch).delete()[1].get(queryset.model._meta.label, 0)
                )
    with transaction.atomic():
        audit_log_record(
            actor=Actor.system("purge_otp_challenges"),
            action=AuditAction.OTP_PURGED,
            target_type="otp_challenge",
            data={**report, "older_than_seconds": int(older_than.total_seconds()), "cutoff": cutoff.isoformat()},
        )
    return report
