"""JSON log lines, the request id on every record, and the filter that keeps PII and secrets out of them."""

import logging
import re

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from .context import current_request_id
from .pii import phones_mask_in_text

REDACTED = "[REDACTED]"
# Record attributes (from `extra=`) and mapping keys whose values are never logged.
SENSITIVE_KEY_RE = re.compile(
    r"(code|otp|token|secret|password|passwd|authorization|api[_-]?key|signature|cookie|session|pin)$|^(body|text)$",
    re.IGNORECASE,
)
# Keys that end like a sensitive one but are not secret.
SAFE_KEYS = frozenset({"status_code", "error_code", "country_code", "http_status_code", "event_type_code"})
# `token=...`, `code: 123456`, `Authorization: Bearer ...` inside free text.
SECRET_IN_TEXT_RE = re.compile(
    r"(?i)\b(token|secret|password|api[_-]?key|code|otp|signature|authorization)(\s*[=:]\s*)(bearer\s+|api-key\s+)?[^\s&,;\"']+"
)
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime", "request_id"}
)


def scrub_text(text: str) -> str:
    text = SECRET_IN_TEXT_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return phones_mask_in_text(text)


def scrub_value(key: str, value):
    if key.lower() not in SAFE_KEYS and SENSITIVE_KEY_RE.search(key):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(key, v) for v in value]
    return value


class ScrubFilter(logging.Filter):
    """Masks phone numbers and redacts codes, tokens, secrets and passwords in the message, its arguments and extras."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string must not lose the record
            message = str(record.msg)
        record.msg = scrub_text(message)
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key in _STANDARD_ATTRS:
                continue
            record.__dict__[key] = scrub_value(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id()
        return True


class JsonFormatter(_BaseJsonFormatter):
    def add_fields(self, log_record, record, message_dict):
        super().add_fields(log_record, record, message_dict)
        log_record["request_id"] = getattr(record, "request_id", None) or current_request_id()
