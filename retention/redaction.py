"""What redaction writes in place of personal data: pure functions, no database.

Phone numbers become their masked form (`+52*******4321`); free text becomes a marker; JSON documents (raw webhook
payloads, transcripts, metadata) keep their structure and the values of a short list of technical keys (ids, types,
statuses, timestamps), while every other string is replaced by the marker, or by a masked number when it is one.
"""

import re
from urllib.parse import unquote

from contactcenter.common.pii import phone_mask

REDACTED = "[redacted]"

# Keys whose values say what happened, never who or what was said: kept (with any long digit run still masked).
# Compared in lower case with `-` read as `_`.
KEPT_KEYS = frozenset(
    {
        "id",
        "type",
        "event",
        "eventname",
        "event_name",
        "event_type",
        "status",
        "smsstatus",
        "messagestatus",
        "callstatus",
        "conversation_status",
        "direction",
        "channel",
        "provider",
        "role",
        "source_medium",
        "purpose",
        "language",
        "main_language",
        "conversation_id",
        "agent_id",
        "agent_name",
        "branch_id",
        "version_id",
        "environment",
        "call_sid",
        "callsid",
        "messagesid",
        "message_sid",
        "smssid",
        "sms_sid",
        "smsmessagesid",
        "accountsid",
        "account_sid",
        "messagingservicesid",
        "messaging_service_sid",
        "apiversion",
        "api_version",
        "projectid",
        "project_id",
        "message_id",
        "provider_message_id",
        "request_id",
        "tool_name",
        "errorcode",
        "error_code",
        "call_successful",
        "termination_reason",
        "phone_call_type",
        "event_timestamp",
        "start_time_unix_secs",
        "call_duration_secs",
        "time_in_call_secs",
        "content_type",
        "user_agent",
        "x_request_id",
        "idempotency_key",
    }
)

# A run of 8 to 15 digits (a phone number, with or without `+`, also URL-encoded as `%2B`), not part of a longer run.
_DIGIT_RUN_RE = re.compile(r"(?<!\d)(?:\+|%2[bB])?\d{8,15}(?!\d)")
# In kept values (ids, dates) a number stands on its own: not inside a UUID segment such as `12345678-…`.
_KEPT_NUMBER_RE = re.compile(r"(?<![\w-])(?:\+|%2[bB])?\d{8,15}(?![\w-])")
# Free text may also write a number with single separators: `+52 1 55 1234 5678`.
# What `phone_mask` writes: left as it is, so that redacting twice changes nothing.
_MASKED_RE = re.compile(r"^\+\d{1,3}\*+\d{0,4}$")
_SPACED_NUMBER_RE = re.compile(r"(?<![\w+])\+?\d(?:[\s\-.]?\d){7,14}(?!\w)")


def _mask_match(match: re.Match) -> str:
    digits = re.sub(r"\D", "", unquote(match.group(0)).replace("+", ""))
    return phone_mask("+" + digits)


def phones_mask(text: str) -> str:
    """Every phone-number-like digit run in `text` masked down to its country code and last four digits."""
    if not text:
        return text
    return _SPACED_NUMBER_RE.sub(_mask_match, _DIGIT_RUN_RE.sub(_mask_match, text))


def phone_redact(value: str) -> str:
    """A stored phone number (E.164, `whatsapp:+…`, a JID) → its masked form; already masked stays as it is."""
    if not value or "*" in value:
        return value
    digits = re.sub(r"\D", "", value.split("@", 1)[0])
    return phone_mask("+" + digits) if digits else REDACTED


def raw_body_redact(value: str | None) -> str | None:
    """A raw webhook body (kept only when its payload could not be stored as it came) → dropped: what it said is in
    the payload, which is redacted in its place."""
    return None


def text_redact(value: str) -> str:
    """Free text (a message body, a summary) → the marker; empty stays empty."""
    return REDACTED if value else value


# Times and durations (`start_time_unix_secs`, `received_at`) are kept too, whatever their key.
KEPT_KEY_SUFFIXES = ("_secs", "_ms", "_seconds", "timestamp", "_at")


def _key_is_kept(key: object) -> bool:
    if not isinstance(key, str):
        return False
    key = key.lower().replace("-", "_")
    return key in KEPT_KEYS or key.endswith(KEPT_KEY_SUFFIXES)


def json_redact(value, *, kept: bool = False):
    """A JSON document with its personal data removed (see the module docstring). Idempotent."""
    if isinstance(value, dict):
        return {
            _KEPT_NUMBER_RE.sub(_mask_match, str(k)): json_redact(v, kept=_key_is_kept(k)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [json_redact(item, kept=kept) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if kept or abs(value) < 10_000_000 else phone_mask("+" + str(abs(value)))
    if isinstance(value, str):
        if kept:  # ids, statuses, dates: only an unbroken digit run can be a number here (not `2010-04-01`)
            return _KEPT_NUMBER_RE.sub(_mask_match, value)
        if not value or value == REDACTED or _MASKED_RE.match(value):
            return value
        if _DIGIT_RUN_RE.fullmatch(value.strip()):
            return phone_redact(value.strip())
        return REDACTED
    return REDACTED
