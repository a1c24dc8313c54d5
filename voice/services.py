"""The voice agent's tools as services: send a code to the caller during the call, verify the digits they read back,
and the variables the agent gets when an inbound call starts.

Every answer is a small dict the agent reads (`result` plus a few words); none carries the code or a full number.
Rules:
- The code goes to the number the call comes from: `caller_id`, bound in the tool definition to `system__caller_id`,
  cross-checked against what we recorded for the conversation (its initiation request or its post-call webhook). A
  mismatch is refused. A number the caller speaks is used only when VOICE_OTP_ALLOW_SPOKEN_NUMBER is on.
- The challenge is bound to the conversation id and to the call's interaction (created when the post-call webhook has
  not come yet; the webhook lands on the same row). Verification looks only at that conversation's challenges.
- ElevenLabs (or the LLM) may call "send" twice: a send for the same conversation and number within
  VOICE_OTP_RESEND_WINDOW_SECONDS of a still-pending challenge returns that challenge again and sends nothing. The
  check runs under an advisory lock per conversation, so two concurrent sends give one SMS.
- The OTP limits (per number, per client, attempts, expiry) are the OTP service's and hold here unchanged.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.actions import AuditAction
from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from contactcenter.common.db import advisory_xact_lock
from contactcenter.common.domain import DomainError
from contactcenter.common.pii import phone_mask
from interactions.models import Direction
from interactions.providers.elevenlabs.tools import InitiationRequest, VoiceToolRequest
from interactions.services import (
    CallerContext,
    phone_or_empty,
    spoken_digits,
    voice_call_number,
    voice_call_open,
    voice_call_verified_mark,
    voice_caller_context,
)
from otp import codes as otp_codes
from otp.models import OtpChallenge, OtpStatus
from otp.services import OtpRateLimited, OtpVerifyOutcome, otp_request, otp_verify

logger = logging.getLogger(__name__)
security_logger = logging.getLogger("webhooks.security")

# The rate-limit identity of the voice agent at the OTP service (its per-client limit counts all its calls together).
VOICE_CLIENT_ID = "elevenlabs:voice-agent"


def voice_actor() -> Actor:
    return Actor.provider(settings.ELEVENLABS_PROVIDER_NAME)


@dataclass(frozen=True)
class ToolAnswer:
    """What a tool answers: `body` goes to the agent as is (HTTP 200); `result` is also logged."""

    result: str
    body: dict


def _answer(result: str, message: str, **fields: Any) -> ToolAnswer:
    return ToolAnswer(result, {"result": result, **fields, "message": message})


def _refused(
    result: str, message: str, *, conversation_id: str, phone: str = "", ip: str | None, **fields: Any
) -> ToolAnswer:
    """A tool call we said no to, audited with its reason (the number masked)."""
    with transaction.atomic():
        audit_log_record(
            actor=voice_actor(),
            action=AuditAction.VOICE_OTP_REFUSED,
            target_type="conversation",
            target_id=conversation_id,
            data={"result": result, "phone": phone_mask(phone), **{k: v for k, v in fields.items() if k != "verified"}},
            ip_address=ip,
        )
    return _answer(result, message, **fields)


# --- send ------------------------------------------------------------------------------------------------------------


def _sent(challenge: OtpChallenge, *, already_sent: bool) -> ToolAnswer:
    remaining = max(int((challenge.expires_at - timezone.now()).total_seconds()), 0)
    masked = phone_mask(challenge.phone)
    return _answer(
        "sent",
        f"A {otp_codes.code_length()}-digit code was sent by SMS to the number ending in {masked[-4:]}. Ask the caller "
        f"to read it aloud; it expires in about {max(remaining // 60, 1)} minutes.",
        masked_phone=masked,
        expires_in_seconds=remaining,
        code_length=otp_codes.code_length(),
        already_sent=already_sent,
    )


def voice_otp_send(*, request: VoiceToolRequest, ip_address: str | None = None) -> ToolAnswer:
    """Send a verification code to the caller of `request.conversation_id` (see the module's rules)."""
    provider = settings.ELEVENLABS_PROVIDER_NAME
    conversation_id = request.conversation_id
    if not conversation_id:
        return _answer(
            "no_conversation",
            "This call has no conversation id, so no code can be sent. Check that the tool binds conversation_id to "
            "system__conversation_id.",
        )
    caller = phone_or_empty(request.caller_id)
    recorded = voice_call_number(provider=provider, conversation_id=conversation_id)
    if caller and recorded and caller != recorded:
        security_logger.warning(
            "voice_caller_mismatch", extra={"conversation_id": conversation_id, "phone": phone_mask(caller)}
        )
        return _refused(
            "not_allowed",
            "The code cannot be sent: the number on this call does not match the call's records.",
            conversation_id=conversation_id,
            phone=caller,
            ip=ip_address,
            reason="caller_mismatch",
        )
    call_number = caller or recorded
    phone = call_number
    if request.spoken_phone and settings.VOICE_OTP_ALLOW_SPOKEN_NUMBER:
        phone = phone_or_empty(request.spoken_phone)
        if not phone:
            return _answer(
                "invalid_number",
                "That is not a complete phone number with its country code. Ask the caller to repeat it.",
            )
    if not phone:
        return _refused(
            "no_number",
            "This call comes from a hidden or unknown number, so no code can be sent by SMS. Offer another way to "
            "verify.",
            conversation_id=conversation_id,
            ip=ip_address,
        )
    language = request.language.lower().replace("_", "-").split("-")[0]
    if language not in otp_codes.sms_languages():
        language = ""
    try:
        with transaction.atomic():
            advisory_xact_lock(f"voice-otp:{provider}:{conversation_id}")
            now = timezone.now()
            recent = (
                OtpChallenge.objects.filter(
                    conversation_id=conversation_id,
                    phone=phone,
                    purpose=settings.VOICE_OTP_PURPOSE,
                    client_id=VOICE_CLIENT_ID,
                    status=OtpStatus.PENDING,
                    created_at__gt=now - timedelta(seconds=settings.VOICE_OTP_RESEND_WINDOW_SECONDS),
                    expires_at__gt=now,
                )
                .order_by("-created_at")
                .first()
            )
            if recent is not None:
                audit_log_record(
                    actor=voice_actor(),
                    action=AuditAction.VOICE_OTP_SEND_REPEATED,
                    target_type="otp_challenge",
                    target_id=recent.pk,
                    data={"conversation_id": conversation_id, "phone": phone_mask(phone)},
                    ip_address=ip_address,
                )
                return _sent(recent, already_sent=True)
            interaction = voice_call_open(
                provider=provider, conversation_id=conversation_id, customer_number=call_number
            )
            result = otp_request(
                phone=phone,
                purpose=settings.VOICE_OTP_PURPOSE,
                actor=voice_actor(),
                language=language,
                conversation_id=conversation_id,
                interaction=interaction,
                client_id=VOICE_CLIENT_ID,
                ip_address=ip_address,
            )
    except OtpRateLimited as exc:
        return _refused(
            "rate_limited",
            f"Too many codes were requested for this number. A new one can be sent in about "
            f"{max(exc.retry_after // 60, 1)} minutes.",
            conversation_id=conversation_id,
            phone=phone,
            ip=ip_address,
            retry_after_seconds=exc.retry_after,
        )
    except DomainError as exc:
        return _refused(
            "not_allowed",
            "A code cannot be sent to this number.",
            conversation_id=conversation_id,
            phone=phone,
            ip=ip_address,
            reason=exc.code,
        )
    assert result.challenge is not None  # no idempotency key, so never a replay: the challenge just created
    return _sent(result.challenge, already_sent=False)


# --- verify ----------------------------------------------------------------------------------------------------------

_CLOSED_ANSWERS: dict[str, tuple[str, str]] = {
    OtpStatus.EXPIRED: ("expired", "The code has expired. Offer to send a new one."),
    OtpStatus.MAX_ATTEMPTS: ("locked", "Too many wrong codes: this code no longer works. Offer to send a new one."),
    OtpStatus.APPROVED: ("already_verified", "The caller was already verified in this call."),
    OtpStatus.CANCELED: ("no_challenge", "That code was replaced by a newer one. Offer to send a new code."),
    OtpStatus.FAILED: ("delivery_failed", "The SMS could not be delivered to this number. Offer another way."),
}


def voice_otp_verify(*, request: VoiceToolRequest, ip_address: str | None = None) -> ToolAnswer:
    """Check the digits the caller read against the latest code sent in this conversation (and only this one)."""
    provider = settings.ELEVENLABS_PROVIDER_NAME
    conversation_id = request.conversation_id
    if not conversation_id:
        return _answer("no_conversation", "This call has no conversation id, so the code cannot be checked.")
    # Only the voice agent's own challenges: an API client may bind a challenge of its own to a conversation id.
    challenge = (
        OtpChallenge.objects.filter(
            conversation_id=conversation_id, purpose=settings.VOICE_OTP_PURPOSE, client_id=VOICE_CLIENT_ID
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if challenge is None:
        return _refused(
            "no_challenge",
            "No code was sent in this call. Send one first.",
            conversation_id=conversation_id,
            ip=ip_address,
        )
    length = otp_codes.code_length()
    digits = spoken_digits(request.code, length=length)
    if len(digits) != length and challenge.status == OtpStatus.PENDING and challenge.expires_at > timezone.now():
        return _answer(
            "invalid_code",
            f"The code has {length} digits; that was {len(digits)}. Ask the caller to read it again, digit by digit.",
            verified=False,
            code_length=length,
        )
    if len(digits) != length:  # a closed challenge: what closed it is the answer (a wrong length spends nothing)
        status = OtpStatus.EXPIRED if challenge.status == OtpStatus.PENDING else challenge.status
        result, message = _CLOSED_ANSWERS.get(status, ("no_challenge", "No code can be checked now."))
        return _answer(result, message, verified=result == "already_verified")
    try:
        outcome = otp_verify(
            code=digits,
            actor=voice_actor(),
            challenge_id=challenge.pk,
            client_id=VOICE_CLIENT_ID,
            conversation_id=conversation_id,
            ip_address=ip_address,
        )
    except OtpRateLimited:
        return _answer(
            "unavailable", "Codes cannot be checked right now. Apologise and offer another way.", verified=False
        )
    if outcome.verified:
        assert outcome.challenge is not None  # a verified outcome carries its challenge
        voice_call_verified_mark(
            provider=provider,
            conversation_id=conversation_id,
            challenge_id=challenge.pk,
            at=outcome.challenge.approved_at or timezone.now(),
        )
        return _answer("approved", "The code is correct: the caller is verified.", verified=True)
    if outcome.outcome == OtpVerifyOutcome.WRONG_CODE:
        left = outcome.attempts_remaining or 0
        return _answer(
            "wrong_code",
            f"That code is not correct. {left} more {'try' if left == 1 else 'tries'} before it stops working.",
            verified=False,
            attempts_left=left,
        )
    result, message = _CLOSED_ANSWERS.get(outcome.status, ("no_challenge", "No code can be checked now."))
    return _answer(result, message, verified=result == "already_verified")


# --- initiation ------------------------------------------------------------------------------------------------------


def initiation_variables(context: CallerContext, *, verification_pending: bool) -> dict:
    """The full set of dynamic variables, always (ElevenLabs requires every variable the agent defines)."""
    return {
        "customer_known": context.customer_known,
        "customer_masked_phone": context.customer_masked_phone,
        "open_interactions": context.open_interactions,
        "last_contact_channel": context.last_contact_channel,
        "last_contact_date": context.last_contact_date,
        "verification_pending": verification_pending,
    }


def voice_initiation_answer(*, request: InitiationRequest, ip_address: str | None = None) -> dict:
    """The dynamic variables for a conversation that is starting, and the call recorded (so a code sent later is
    checked against the number the call came from). Unknown, hidden or odd callers get every variable empty."""
    provider = settings.ELEVENLABS_PROVIDER_NAME
    phone = phone_or_empty(request.caller_id)
    share = settings.VOICE_INITIATION_SHARE_CONTEXT and bool(phone)
    context = CallerContext()
    pending = False
    if share:
        context = voice_caller_context(phone=phone, exclude_external_id=request.conversation_id)
        pending = OtpChallenge.objects.filter(
            phone=phone, status=OtpStatus.PENDING, expires_at__gt=timezone.now()
        ).exists()
    variables = initiation_variables(context, verification_pending=pending)
    with transaction.atomic():
        if request.conversation_id and request.is_phone_call and phone:
            voice_call_open(
                provider=provider,
                conversation_id=request.conversation_id,
                customer_number=phone,
                agent_number=request.called_number,
                call_sid=request.call_sid or request.call_id,
                agent_id=request.agent_id,
                direction=Direction.INBOUND,
            )
        audit_log_record(
            actor=voice_actor(),
            action=AuditAction.VOICE_INITIATION,
            target_type="conversation",
            target_id=request.conversation_id,
            data={
                "phone": phone_mask(phone),
                "phone_call": request.is_phone_call,
                "context_shared": share,
                "customer_known": context.customer_known,
            },
            ip_address=ip_address,
        )
    return variables
