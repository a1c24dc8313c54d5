"""ElevenLabs post-call webhooks: the `ElevenLabs-Signature` HMAC and reading deliveries into our call records.

Only this module knows ElevenLabs' field names. It accepts both payload generations and the variations listed in
providers.md §4: numbers as strings, timestamps in seconds or ISO 8601, null lists, a missing or unknown
`metadata.phone_call`, `analysis: null`, unknown event types (returned as not handled, never an error)."""

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime

from interactions.models import Direction, InteractionStatus
from interactions.services.calls import NormalizedCall, NormalizedCallAudio

from ..base import PayloadUnreadable

POST_CALL_TRANSCRIPTION = "post_call_transcription"
POST_CALL_AUDIO = "post_call_audio"
CALL_INITIATION_FAILURE = "call_initiation_failure"
HANDLED_EVENT_TYPES = frozenset({POST_CALL_TRANSCRIPTION, POST_CALL_AUDIO, CALL_INITIATION_FAILURE})

SIGNATURE_MAX_AGE_SECONDS = 30 * 60  # what ElevenLabs' own SDKs allow
SIGNATURE_MAX_FUTURE_SECONDS = 5 * 60  # our own bound on clock skew the other way


class ElevenLabsPayloadUnreadable(PayloadUnreadable):
    """JSON, but not an ElevenLabs event we can read (no conversation id, data not an object, bad base64…)."""


@dataclass(frozen=True)
class ElevenLabsEvent:
    event_type: str
    conversation_id: str
    occurred_at: datetime | None
    handled: bool
    call: NormalizedCall | None = None
    audio: NormalizedCallAudio | None = None


@dataclass(frozen=True)
class SignatureCheck:
    valid: bool
    reason: str  # ok | missing | malformed | stale | future | mismatch | no_secret


# --- small tolerant readers ---------------------------------------------------------------------------------------
def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _text(value: object) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value).strip()


def _int(value: object) -> int | None:
    """A whole number, or None for anything else (text, infinities, NaN)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(str(value).strip()))
    except (TypeError, ValueError, OverflowError):
        return None


# A call longer than a week is no call: a value past it (or past what the column holds) is dropped, the rest applied.
MAX_CALL_SECONDS = 7 * 24 * 3600


def _timestamp(value: object) -> datetime | None:
    """Unix seconds (int, float or numeric string; milliseconds tolerated) or an ISO 8601 / RFC 2822 string."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    number = None
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                try:
                    parsed = parsedate_to_datetime(text)
                except (TypeError, ValueError):
                    return None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if number > 1e11:  # milliseconds
        number /= 1000
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _present(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if v not in (None, "", [], {})}


# --- envelope -----------------------------------------------------------------------------------------------------
def _envelope(payload: dict) -> tuple[str, dict]:
    """(event type, data). Tolerates the third-party-reported older shape with the data inlined at top level."""
    event_type = _text(payload.get("type"))
    data = payload.get("data")
    if not event_type and data is None:
        if "full_audio" in payload or "audio_base64" in payload:
            return POST_CALL_AUDIO, payload
        if "conversation_id" in payload and ("transcript" in payload or "metadata" in payload):
            return POST_CALL_TRANSCRIPTION, payload
    return event_type, data if isinstance(data, dict) else ({} if data is None else data)


def elevenlabs_event_identity(payload: dict) -> tuple[str, str]:
    """(event type, conversation id) for the idempotency key, without validating anything. Never raises."""
    event_type, data = _envelope(payload)
    conversation_id = _text(data.get("conversation_id")) if isinstance(data, dict) else ""
    return event_type, conversation_id


def elevenlabs_event_parse(payload: dict, *, provider: str) -> ElevenLabsEvent:
    """Read a post-call webhook into our records. Raises ElevenLabsPayloadUnreadable for a handled event type whose
    content cannot be read; an unknown type comes back with `handled=False`."""
    if not isinstance(payload, dict):
        raise ElevenLabsPayloadUnreadable("the body is not a JSON object")
    event_type, data = _envelope(payload)
    occurred_at = _timestamp(payload.get("event_timestamp"))
    if event_type not in HANDLED_EVENT_TYPES:
        conversation_id = _text(data.get("conversation_id")) if isinstance(data, dict) else ""
        if not event_type:
            raise ElevenLabsPayloadUnreadable("no event `type` in the delivery")
        return ElevenLabsEvent(event_type, conversation_id, occurred_at, handled=False)
    if not isinstance(data, dict):
        raise ElevenLabsPayloadUnreadable("`data` is not a JSON object")
    conversation_id = _text(data.get("conversation_id"))
    if not conversation_id:
        raise ElevenLabsPayloadUnreadable("no `data.conversation_id`")
    if event_type == POST_CALL_TRANSCRIPTION:
        call = _transcription_call(data, provider=provider, conversation_id=conversation_id)
        return ElevenLabsEvent(event_type, conversation_id, occurred_at, handled=True, call=call)
    if event_type == CALL_INITIATION_FAILURE:
        call = _initiation_failure_call(data, provider=provider, conversation_id=conversation_id)
        return ElevenLabsEvent(event_type, conversation_id, occurred_at, handled=True, call=call)
    audio = _audio(data, provider=provider, conversation_id=conversation_id)
    return ElevenLabsEvent(event_type, conversation_id, occurred_at, handled=True, audio=audio)


# --- post_call_transcription --------------------------------------------------------------------------------------
_CONVERSATION_STATUS = {
    "done": InteractionStatus.COMPLETED,
    "failed": InteractionStatus.FAILED,
    "initiated": InteractionStatus.IN_PROGRESS,
    "in-progress": InteractionStatus.IN_PROGRESS,
    "in_progress": InteractionStatus.IN_PROGRESS,
    "processing": InteractionStatus.IN_PROGRESS,
}


def _turn(raw: dict) -> dict:
    tool_calls = [
        _present(
            {
                "tool_name": _text(call.get("tool_name")),
                "request_id": _text(call.get("request_id")),
                "type": _text(call.get("type")),
                "params": _text(call.get("params_as_json")),
            }
        )
        for call in _list(raw.get("tool_calls"))
        if isinstance(call, dict)
    ]
    tool_results = [
        _present(
            {
                "tool_name": _text(result.get("tool_name")),
                "request_id": _text(result.get("request_id")),
                "is_error": bool(result.get("is_error")),
                "result": _text(result.get("result_value")),
            }
        )
        for result in _list(raw.get("tool_results"))
        if isinstance(result, dict)
    ]
    turn = {
        "role": _text(raw.get("role")) or "unknown",
        "message": raw.get("message") if isinstance(raw.get("message"), str) else None,
        "time_in_call_secs": _int(raw.get("time_in_call_secs")),
    }
    if tool_calls:
        turn["tool_calls"] = tool_calls
    if tool_results:
        turn["tool_results"] = tool_results
    if raw.get("interrupted"):
        turn["interrupted"] = True
    return turn


def _unwrap(value):
    """Third-party payloads wrap data-collection values as {value: …} or {result: …}."""
    if isinstance(value, dict) and len(value) == 1:
        for key in ("value", "result"):
            if key in value:
                return value[key]
    return value


def _analysis(raw: object) -> dict | None:
    if not isinstance(raw, dict):
        return None
    collected = {}
    for key, item in _dict(raw.get("data_collection_results")).items():
        collected[key] = _unwrap(item.get("value")) if isinstance(item, dict) else _unwrap(item)
    for item in _list(raw.get("data_collection_results_list")):
        if isinstance(item, dict) and _text(item.get("data_collection_id")):
            collected.setdefault(_text(item.get("data_collection_id")), _unwrap(item.get("value")))
    evaluation = {}
    for key, item in _dict(raw.get("evaluation_criteria_results")).items():
        evaluation[key] = _text(item.get("result")) if isinstance(item, dict) else _text(item)
    for item in _list(raw.get("evaluation_criteria_results_list")):
        if isinstance(item, dict) and _text(item.get("criteria_id")):
            evaluation.setdefault(_text(item.get("criteria_id")), _text(item.get("result")))
    return {**raw, "data_collection": collected, "evaluation": evaluation}


def _transcription_call(data: dict, *, provider: str, conversation_id: str) -> NormalizedCall:
    metadata = _dict(data.get("metadata"))
    phone_call = _dict(metadata.get("phone_call"))
    client_data = _dict(data.get("conversation_initiation_client_data"))
    variables = _dict(client_data.get("dynamic_variables"))
    started_at = _timestamp(metadata.get("start_time_unix_secs"))
    duration = _int(metadata.get("call_duration_secs"))
    if duration is not None and not 0 <= duration <= MAX_CALL_SECONDS:
        duration = None
    ended_at = started_at + timedelta(seconds=duration) if started_at and duration is not None else None
    direction = _text(phone_call.get("direction")).lower()
    conversation_status = _text(data.get("status")).lower()
    analysis = _analysis(data.get("analysis"))
    error = _dict(metadata.get("error"))
    turns = [_turn(turn) for turn in _list(data.get("transcript")) if isinstance(turn, dict)]
    has_audio = data.get("has_audio")
    return NormalizedCall(
        provider=provider,
        conversation_id=conversation_id,
        status=_CONVERSATION_STATUS.get(conversation_status),
        conversation_status=conversation_status,
        direction=direction if direction in (Direction.INBOUND, Direction.OUTBOUND) else None,
        agent_id=_text(data.get("agent_id")),
        agent_name=_text(data.get("agent_name")),
        call_sid=_text(phone_call.get("call_sid")) or _text(variables.get("system__call_sid")),
        phone_call_type=_text(phone_call.get("type")),
        customer_number=_text(phone_call.get("external_number")) or _text(variables.get("system__caller_id")),
        agent_number=_text(phone_call.get("agent_number")) or _text(variables.get("system__called_number")),
        started_at=started_at,
        ended_at=ended_at,
        duration_seconds=duration,
        end_reason=_text(metadata.get("termination_reason")),
        failure_reason=_text(error.get("reason")),
        call_successful=_text((analysis or {}).get("call_successful")),
        summary_title=_text((analysis or {}).get("call_summary_title")),
        summary=_text((analysis or {}).get("transcript_summary")),
        transcript=turns if "transcript" in data else None,
        analysis=analysis,
        has_audio=has_audio if isinstance(has_audio, bool) else None,
        cost=_decimal(metadata.get("cost")),
        user_id=_text(data.get("user_id")) or _text(client_data.get("user_id")),
        metadata=_present(
            {
                "main_language": _text(metadata.get("main_language")),
                "cost_fiat": metadata.get("cost_fiat") if isinstance(metadata.get("cost_fiat"), int | float) else None,
                "error_code": _int(error.get("code")),
                "initiation_source": _text(metadata.get("conversation_initiation_source")),
                "phone_number_id": _text(phone_call.get("phone_number_id")),
                "stream_sid": _text(phone_call.get("stream_sid")),
                "branch_id": _text(data.get("branch_id")),
                "version_id": _text(data.get("version_id")),
                "environment": _text(data.get("environment")),
                "text_only": metadata.get("text_only") if isinstance(metadata.get("text_only"), bool) else None,
            }
        ),
    )


# --- call_initiation_failure --------------------------------------------------------------------------------------
def _initiation_failure_call(data: dict, *, provider: str, conversation_id: str) -> NormalizedCall:
    failure_reason = _text(data.get("failure_reason")) or "unknown"
    meta = _dict(data.get("metadata"))
    body = _dict(meta.get("body"))
    kind = _text(meta.get("type")).lower()
    # Twilio's Voice StatusCallback fields (strings) or the SIP variant's snake_case ones; unknown kinds try both.
    customer = _text(body.get("To")) or _text(body.get("Called")) or _text(body.get("to_number"))
    our_line = _text(body.get("From")) or _text(body.get("Caller")) or _text(body.get("from_number"))
    call_sid = _text(body.get("CallSid")) or _text(body.get("call_sid"))
    at = _timestamp(body.get("Timestamp"))
    return NormalizedCall(
        provider=provider,
        conversation_id=conversation_id,
        status=InteractionStatus.FAILED,
        conversation_status="failed",
        direction=Direction.OUTBOUND,
        agent_id=_text(data.get("agent_id")),
        call_sid=call_sid,
        phone_call_type=kind,
        customer_number=customer,
        agent_number=our_line,
        started_at=at,
        ended_at=at,
        duration_seconds=0,
        end_reason=f"call initiation failed: {failure_reason}",
        failure_reason=failure_reason,
        metadata=_present(
            {
                "call_status": _text(body.get("CallStatus")),
                "sip_status_code": _int(body.get("SipResponseCode") or body.get("sip_status_code")),
                "sip_status": _text(body.get("sip_status")),
                "error_reason": _text(body.get("error_reason")),
            }
        ),
    )


# --- post_call_audio ----------------------------------------------------------------------------------------------
AUDIO_FIELDS = ("full_audio", "audio_base64")


def _audio(data: dict, *, provider: str, conversation_id: str) -> NormalizedCallAudio:
    encoded = next((data[name] for name in AUDIO_FIELDS if isinstance(data.get(name), str) and data[name]), None)
    if encoded is None:
        if any(isinstance(data.get(name), dict) for name in AUDIO_FIELDS):
            raise ElevenLabsPayloadUnreadable("the audio was already stored and removed from this payload")
        raise ElevenLabsPayloadUnreadable("no `data.full_audio`")
    try:
        audio = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ElevenLabsPayloadUnreadable("`data.full_audio` is not valid base64") from exc
    if not audio:
        raise ElevenLabsPayloadUnreadable("`data.full_audio` is empty")
    return NormalizedCallAudio(
        provider=provider, conversation_id=conversation_id, audio=audio, agent_id=_text(data.get("agent_id"))
    )


def elevenlabs_audio_scrub(payload: dict, *, reference: dict) -> dict:
    """The payload with the base64 audio replaced by `reference` (where the recording was stored)."""
    scrubbed = dict(payload)
    data = payload.get("data") if isinstance(payload.get("data"), dict) else None
    target = dict(data) if data is not None else scrubbed
    for name in AUDIO_FIELDS:
        if isinstance(target.get(name), str):
            target[name] = dict(reference)
    if data is not None:
        scrubbed["data"] = target
    return scrubbed


# --- ElevenLabs-Signature -----------------------------------------------------------------------------------------
def elevenlabs_signature_compute(*, raw_body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The header value ElevenLabs sends: `t=<unix seconds>,v0=<hex HMAC-SHA256 of "t.body">`."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{t}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"t={t},v0={mac}"


def elevenlabs_signature_check(
    *, raw_body: bytes, header: str | None, secrets: list[str], now: float | None = None
) -> SignatureCheck:
    """Verify `ElevenLabs-Signature` against any of `secrets` (several allow rotation), in constant time.

    Parts may come in any order, with spaces after commas. Rejects a missing header, a missing or non-integer `t`,
    several different `t`, a timestamp older than 30 minutes or more than 5 minutes ahead, or no matching `v0`."""
    if not secrets:
        return SignatureCheck(False, "no_secret")
    if not header or not header.strip():
        return SignatureCheck(False, "missing")
    timestamps, macs = set(), []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip() == "t":
            timestamps.add(value.strip())
        elif name.strip() == "v0":
            macs.append(value.strip().lower())
    if len(timestamps) != 1 or not macs:
        return SignatureCheck(False, "malformed")
    t_text = timestamps.pop()
    if not t_text.isdigit():
        return SignatureCheck(False, "malformed")
    t = int(t_text)
    now = time.time() if now is None else now
    if t < now - SIGNATURE_MAX_AGE_SECONDS:
        return SignatureCheck(False, "stale")
    if t > now + SIGNATURE_MAX_FUTURE_SECONDS:
        return SignatureCheck(False, "future")
    signed = t_text.encode() + b"." + raw_body
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        for mac in macs:
            matched |= hmac.compare_digest(expected, mac)
    return SignatureCheck(True, "ok") if matched else SignatureCheck(False, "mismatch")
