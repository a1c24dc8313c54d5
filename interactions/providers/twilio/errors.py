"""Twilio error codes: what each means and whether a send that got it is worth retrying; reading error bodies."""

import json
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from contactcenter.common.masking import phones_mask

# code: (meaning, retryable)
TWILIO_ERROR_CODES: dict[str, tuple[str, bool]] = {
    "20003": ("Authentication failed: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN", False),
    "20404": ("Resource not found", False),
    "20429": ("Too many concurrent requests", True),
    "21211": ("Invalid 'To' phone number", False),
    "21408": ("Messaging to this region is not enabled (Geo Permissions)", False),
    "21608": ("Unverified 'To' number on a trial account", False),
    "21610": ("Recipient unsubscribed (replied STOP)", False),
    "21612": ("Cannot route to this number from this sender", False),
    "21614": ("'To' is not a mobile number", False),
    "21635": ("'To' is a landline that cannot receive SMS", False),
    "30001": ("Queue overflow", True),
    "30002": ("Account suspended", False),
    "30003": ("Unreachable destination handset", False),
    "30004": ("Message blocked by the recipient or carrier", False),
    "30005": ("Unknown destination handset", False),
    "30006": ("Landline or unreachable carrier", False),
    "30007": ("Message filtered by the carrier (spam or content)", False),
    "30008": ("Unknown error from the carrier", False),
    "30034": ("Message from an unregistered number (A2P 10DLC)", False),
    "30450": ("Temporarily blocked by SMS pumping protection", False),
}


def twilio_error_meaning(code: object) -> str:
    text = str(code or "").strip()
    if not text:
        return ""
    return TWILIO_ERROR_CODES.get(text, (f"Twilio error {text}", False))[0]


def twilio_error_is_retryable(code: object, http_status: int | None = None) -> bool:
    """Transient: 429/20429, 5xx, and codes marked retryable. Every other 4xx is permanent."""
    if http_status is not None and (http_status == 429 or http_status >= 500):
        return True
    return TWILIO_ERROR_CODES.get(str(code or "").strip(), ("", False))[1]


@dataclass(frozen=True)
class TwilioErrorInfo:
    code: str
    message: str


def twilio_error_parse(http_status: int, text: str | bytes | None) -> TwilioErrorInfo:
    """Code and message of a Twilio error body, whichever shape it came in:
    legacy `{code, message, more_info, status}`, RFC-9457 `{type, title, status, code, detail}`, newer
    `{errors: [{code, message, ...}]}`, or a body that is not JSON at all (a proxy's HTML page). Phone numbers in the
    message are masked: Twilio repeats the `To` number in some of them."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        payload = json.loads(text or "")
    except ValueError:
        payload = None
    code, message = "", ""
    if isinstance(payload, dict):
        errors = payload.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict) and "code" not in payload:
            payload = errors[0]
        code = str(payload.get("code") or "").strip()
        message = str(payload.get("detail") or payload.get("message") or payload.get("title") or "").strip()
    if not message:
        message = twilio_error_meaning(code) or f"HTTP {http_status} from Twilio"
    return TwilioErrorInfo(code=code, message=phones_mask(message)[:500])


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """A `Retry-After` header in seconds: delta-seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - (now if now is not None else time.time()), 0.0)
