"""JSON log lines, the request id on every record, and what keeps PII and secrets out of them: a filter that scrubs
the record (message, arguments, extras, traceback and stack text) and a formatter that scrubs the finished line again,
whatever formatted its parts (python-json-logger formats `exc_info` and `stack_info` itself, after every filter)."""

import json
import logging
import re
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from .context import current_request_id
from .masking import phones_mask

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
# Set on a record by ScrubFilter (a leading underscore keeps it out of the line).
_SCRUBBED = "_pii_scrubbed"
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime", "request_id"}
)


def scrub_text(text: str, *, key: str = "") -> str:
    """Secrets written as `name=value` redacted, phone numbers masked (contactcenter.common.masking)."""
    text = SECRET_IN_TEXT_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return phones_mask(text, key=key)


def scrub_value(key: str, value: Any) -> Any:
    if key.lower() not in SAFE_KEYS and SENSITIVE_KEY_RE.search(key):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, str):
        return scrub_text(value, key=key)
    if isinstance(value, dict):
        return {k: scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(key, v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return phones_mask(value, key=key)  # a number under a phone key (`extra={"phone": 5215512345678}`)
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
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        record.__dict__[_SCRUBBED] = True  # the formatter need not scrub this record's own fields again
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id()
        return True


# Fields of a line that the formatter makes from the record itself, never from data: left as they are.
_FORMATTER_FIELDS = frozenset({"time", "level", "logger", "asctime", "levelname", "name"})
# Fields the formatter adds after the filters ran (python-json-logger formats `exc_info` and `stack_info` itself; the
# request id comes from a client header): scrubbed on every line.
_LATE_FIELDS = frozenset({"exc_info", "stack_info", "request_id"})


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line. Tracebacks and stacks are scrubbed as they are formatted, and the whole line once
    more before it is written: objects logged as extras (a request, an exception) are turned into their JSON form
    first, then scrubbed like any other value, so nothing reaches the line unscrubbed whatever path formatted it."""

    def add_fields(self, log_record, record, message_dict):
        super().add_fields(log_record, record, message_dict)
        log_record["request_id"] = getattr(record, "request_id", None) or current_request_id()
        if record.__dict__.get(_SCRUBBED):
            log_record[_SCRUBBED] = True

    def formatException(self, ei):
        formatted = super().formatException(ei)
        return [scrub_text(line) for line in formatted] if isinstance(formatted, list) else scrub_text(formatted)

    def formatStack(self, stack_info):
        formatted = super().formatStack(stack_info)
        return [scrub_text(line) for line in formatted] if isinstance(formatted, list) else scrub_text(formatted)

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        filtered = log_data.pop(_SCRUBBED, False)
        scrubbed = {}
        for key, value in log_data.items():
            native = isinstance(value, str | int | float | bool | type(None))
            if key in _FORMATTER_FIELDS or (filtered and native and key not in _LATE_FIELDS):
                scrubbed[key] = value  # made by the formatter, or scrubbed by ScrubFilter already
            else:
                scrubbed[key] = scrub_value(str(key), value if native else self._as_json(value))
        return super().jsonify_log_record(scrubbed)

    def _as_json(self, value):
        """A request, an exception, a dict of them…: in the form the line would carry it, so that it is scrubbed."""
        return json.loads(
            self.json_serializer(value, default=self.json_default, cls=self.json_encoder, ensure_ascii=False)
        )


def logging_config(*, level: str, loggers: dict) -> dict:
    """The dictConfig of every process (Django's LOGGING, gunicorn's own loggers in gunicorn.conf.py): one console
    handler writing JSON lines through the request-id and scrub filters."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "contactcenter.common.logging.RequestIdFilter"},
            "scrub": {"()": "contactcenter.common.logging.ScrubFilter"},
        },
        "formatters": {
            "json": {
                "()": "contactcenter.common.logging.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id", "scrub"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": loggers,
    }
