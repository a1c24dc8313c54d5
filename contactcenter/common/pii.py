"""Phone numbers: parsing to E.164, masking, and the keyed hash kept for matching. The one place that knows the rules."""

import hashlib
import hmac
import re

import phonenumbers
from django.conf import settings

E164_RE = re.compile(r"^\+[1-9]\d{7,14}$")
_JID_SUFFIX_RE = re.compile(r"@(s\.whatsapp\.net|c\.us|g\.us|lid)$", re.IGNORECASE)
_CHANNEL_PREFIX_RE = re.compile(r"^(whatsapp|sms|rcs|tel):", re.IGNORECASE)


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can store in E.164."""


def phone_normalize(raw: object) -> str:
    """Turn a provider's or a client's phone number into E.164, or raise InvalidPhoneNumber.

    Accepts `+E164`, digits with the country code and no `+` (WhatsApp), `whatsapp:+…` channel addresses and JIDs
    such as `5491112345678@s.whatsapp.net`. Spaces, dashes, dots and parentheses are ignored.
    """
    if raw is None:
        raise InvalidPhoneNumber("no phone number")
    text = _CHANNEL_PREFIX_RE.sub("", str(raw).strip())
    text = _JID_SUFFIX_RE.sub("", text)
    text = text.split(":", 1)[0] if "@" not in text else text  # device suffix of a JID user part ("123:4")
    digits = re.sub(r"[\s\-().]", "", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not digits.startswith("+"):
        digits = "+" + digits
    if not E164_RE.match(digits):
        raise InvalidPhoneNumber("not an international phone number")
    try:
        parsed = phonenumbers.parse(digits, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber("not an international phone number") from exc
    if phonenumbers.region_code_for_country_code(parsed.country_code) == "ZZ":
        raise InvalidPhoneNumber("unknown country calling code")
    if not (phonenumbers.is_possible_number(parsed) or _is_legacy_mexican_mobile(parsed)):
        raise InvalidPhoneNumber("impossible length for its country")
    return digits


def _is_legacy_mexican_mobile(parsed: phonenumbers.PhoneNumber) -> bool:
    # WhatsApp and many Mexican customers still write mobiles as +52 1 + ten digits; the number reaches the same line.
    national = str(parsed.national_number)
    return parsed.country_code == 52 and len(national) == 11 and national.startswith("1")


def phone_is_valid(raw: object) -> bool:
    try:
        phone_normalize(raw)
    except InvalidPhoneNumber:
        return False
    return True


def phone_country_code(e164: str) -> str:
    """The ISO region (`MX`, `US`) of an E.164 number, or `ZZ`."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or "ZZ"
    except phonenumbers.NumberParseException:
        return "ZZ"


def _country_calling_code(digits: str) -> str:
    """The country calling code a run of digits starts with (codes are prefix-free, one to three digits long); the
    first digit when none is known. A table lookup: retention masks millions of numbers, a full parse costs 30x."""
    if digits.startswith("0"):
        return digits[:1]  # no calling code starts with 0: not an international number, show nothing more
    for length in (1, 2, 3):
        if int(digits[:length] or 0) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return digits[:length]
    return digits[:1]


def phone_mask(e164: str | None) -> str:
    """`+5215512344321` → `+52*******4321`: the country calling code and the last four digits."""
    if not e164:
        return ""
    if "*" in e164:
        return e164  # already masked (a redacted row)
    digits = re.sub(r"\D", "", e164)
    country = _country_calling_code(digits)
    if len(digits) <= len(country) + 4:
        return "+" + country + "*" * max(len(digits) - len(country), 0)
    return "+" + country + "*" * (len(digits) - len(country) - 4) + digits[-4:]


def phone_hash(e164: str | None) -> str:
    """Keyed hash of an E.164 number (HMAC-SHA256 with PII_HASH_KEY): matches a number without storing it."""
    if not e164:
        return ""
    return hmac.new(settings.PII_HASH_KEY.encode(), e164.encode(), hashlib.sha256).hexdigest()


# Runs of digits that look like a phone number inside free text (log messages): 8 to 15 digits, optionally with `+`
# and single separators. Hex ids and UUIDs are not matched: letters and the dashes of their groups break the run.
PHONE_IN_TEXT_RE = re.compile(r"(?<![\w+\-])\+?\d(?:[\s\-.]?\d){7,14}(?![\w\-])")


def phones_mask_in_text(text: str) -> str:
    return PHONE_IN_TEXT_RE.sub(lambda m: phone_mask("+" + re.sub(r"\D", "", m.group(0))), text)
