"""Twilio error codes: what each means and whether a send that got it is worth retrying."""

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
