"""Twilio message status callbacks: reading them into our record and checking `X-Twilio-Signature`.

Only this module knows the callback's field names. Callbacks are form-encoded (all values strings); their parameter
set grows without notice, so unknown keys are kept and always passed to the signature validator unfiltered."""

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from twilio.request_validator import RequestValidator

from ..base import PayloadUnreadable
from .errors import twilio_error_meaning
from .statuses import message_status_from_twilio


class StatusCallbackUnreadable(PayloadUnreadable):
    """The delivery is form data, but not a status callback we can read (no MessageSid, no status)."""


@dataclass(frozen=True)
class NormalizedStatusCallback:
    message_sid: str
    provider_status: str  # Twilio's word, lower-cased, kept even when we do not know it
    status: str | None  # our MessageStatus, or None for a word we do not know
    error_code: str = ""
    error_message: str = ""
    account_sid: str = ""
    messaging_service_sid: str = ""
    channel: str = "sms"  # sms, whatsapp, rcs… from the `whatsapp:` style prefix of the addresses
    raw_dlr_done_date: str = ""  # YYMMDDhhmm without a timezone: kept raw, never read as UTC
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """A PII-free summary for the event ledger (no phone numbers)."""
        return {
            "message_sid": self.message_sid,
            "provider_status": self.provider_status,
            "status": self.status,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "channel": self.channel,
            "raw_dlr_done_date": self.raw_dlr_done_date,
        }


def _first(params: Mapping, *names: str) -> str:
    for name in names:
        value = params.get(name)
        if isinstance(value, list | tuple):
            value = value[0] if value else ""
        if value not in (None, ""):
            return str(value).strip()
    return ""


def status_callback_sid(params: Mapping) -> str:
    return _first(params, "MessageSid", "SmsSid", "SmsMessageSid")


def status_callback_status_word(params: Mapping) -> str:
    return _first(params, "MessageStatus", "SmsStatus").lower()


def status_callback_parse(params: Mapping) -> NormalizedStatusCallback:
    """Read a status callback (a QueryDict or a plain dict of strings). Prefers `MessageStatus`/`MessageSid` over the
    legacy `SmsStatus`/`SmsSid`. An unknown status word is kept (status None), never an error."""
    sid = status_callback_sid(params)
    if not sid:
        raise StatusCallbackUnreadable("no MessageSid (or SmsSid) in the callback")
    word = status_callback_status_word(params)
    if not word:
        raise StatusCallbackUnreadable("no MessageStatus (or SmsStatus) in the callback")
    error_code = _first(params, "ErrorCode")
    if error_code.endswith(".0"):  # a JSON number re-encoded as text
        error_code = error_code[:-2]
    error_message = twilio_error_meaning(error_code) if error_code else ""
    provider_message = _first(params, "ErrorMessage", "ChannelStatusMessage")
    if provider_message and provider_message not in error_message:
        error_message = f"{error_message}: {provider_message}" if error_message else provider_message
    address = _first(params, "To", "From")
    channel = address.split(":", 1)[0].lower() if ":" in address else "sms"
    return NormalizedStatusCallback(
        message_sid=sid,
        provider_status=word,
        status=message_status_from_twilio(word),
        error_code=error_code,
        error_message=error_message,
        account_sid=_first(params, "AccountSid"),
        messaging_service_sid=_first(params, "MessagingServiceSid"),
        channel=channel,
        raw_dlr_done_date=_first(params, "RawDlrDoneDate"),
        extra={"event_type": _first(params, "EventType")} if _first(params, "EventType") else {},
    )


def status_callback_signature_valid(
    *, url: str, params: Mapping | None, signature: str, auth_token: str, raw_body: bytes | None = None
) -> bool:
    """Check `X-Twilio-Signature` with twilio's own RequestValidator (tries the URL with and without its port).

    Form callbacks: `params` is every received field (a Django QueryDict works). JSON callbacks carry
    `bodySHA256=<hex>` in the signed URL: the URL is validated with the body and the hash checked against the body."""
    if not signature or not auth_token:
        return False
    validator = RequestValidator(auth_token)
    query = parse_qs(urlsplit(url).query)
    if raw_body is not None and "bodySHA256" in query:
        expected = hashlib.sha256(raw_body).hexdigest()
        if not hmac.compare_digest(expected, query["bodySHA256"][0]):
            return False
        return validator.validate(url, raw_body.decode("utf-8", "replace"), signature)
    return validator.validate(url, params or {}, signature)


def status_callback_signature_compute(*, url: str, params: Mapping, auth_token: str) -> str:
    """The signature Twilio would send (the simulator and tests use it)."""
    return RequestValidator(auth_token).compute_signature(url, dict(params))


def url_with_query(url: str, **extra: str) -> str:
    """`url` with more query parameters (e.g. the webhook token Twilio must call back with)."""
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query and extra else "") + urlencode(extra)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
