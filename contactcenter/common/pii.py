"""Phone numbers: parsing to E.164, masking, and the keyed hash kept for matching. The one place that knows the rules."""

import hashlib
import hmac
import re
import unicodedata

import phonenumbers
from django.conf import settings

E164_RE = re.compile(r"^\+[1-9][0-9]{7,14}$")
_JID_SUFFIX_RE = re.compile(r"@(s\.whatsapp\.net|c\.us|g\.us|lid)$", re.IGNORECASE)
_CHANNEL_PREFIX_RE = re.compile(r"^(whatsapp|sms|rcs|tel):", re.IGNORECASE)
# What people and providers put between digits: spaces of every kind, dashes of every kind, dots, parentheses.
_SEPARATORS_RE = re.compile(r"[\s\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d.()\uff08\uff09]")
_PLUS_SIGNS = {"\uff0b": "+", "\u207a": "+", "\u208a": "+"}


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can store in E.164."""


def digits_fold(text: str) -> str:
    """Every Unicode decimal digit (fullwidth `１`, Arabic-Indic `١`, Devanagari `१`…) as its ASCII digit, and the
    fullwidth plus sign as `+`; everything else is left as it is (and refused later if it is not a separator)."""
    if text.isascii():
        return text
    out = []
    for char in text:
        if char in _PLUS_SIGNS:
            out.append(_PLUS_SIGNS[char])
            continue
        value = unicodedata.decimal(char, None)
        out.append(str(value) if value is not None else char)
    return "".join(out)


def phone_normalize(raw: object) -> str:
    """Turn a provider's or a client's phone number into its one canonical E.164 form, or raise InvalidPhoneNumber.

    Accepts `+E164`, digits with the country code and no `+` (WhatsApp), `00` + country code, `whatsapp:+…` channel
    addresses and JIDs such as `5491112345678@s.whatsapp.net`; separators of any kind and digits of any script are
    read as what they are. One number has one identity, however it is spelled: Mexico's legacy mobile form
    (`+52 1 55…`, WhatsApp's `521…`) is `+52 55…`, and a Brazilian mobile written without its ninth digit (old
    WhatsApp ids) gets it. The address a provider needs to reach the number, where it differs, is kept apart
    (`Interaction.customer_address`)."""
    if raw is None:
        raise InvalidPhoneNumber("no phone number")
    text = digits_fold(_CHANNEL_PREFIX_RE.sub("", str(raw).strip()))
    text = _JID_SUFFIX_RE.sub("", text)
    text = text.split(":", 1)[0] if "@" not in text else text  # device suffix of a JID user part ("123:4")
    digits = _SEPARATORS_RE.sub("", text)
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
    country_code = parsed.country_code or 0  # parse() always sets it; 0 would be no country ("ZZ") as None is
    if phonenumbers.region_code_for_country_code(country_code) == "ZZ":
        raise InvalidPhoneNumber("unknown country calling code")
    canonical = _canonical(country_code, str(parsed.national_number), digits)
    if canonical != digits:
        return canonical
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumber("impossible length for its country")
    return digits


def _canonical(country_code: int, national: str, e164: str) -> str:
    """The canonical spelling of a number some write another way (see phone_normalize)."""
    if country_code == 52 and len(national) == 11 and national.startswith("1"):
        # Mexico dropped the mobile `1` in 2019; WhatsApp and many customers still write it. Same line.
        return "+52" + national[1:]
    if country_code == 55 and len(national) == 10 and national[2] in "6789":
        # A Brazilian mobile before the ninth digit (completed in 2016): WhatsApp ids of old accounts still lack it.
        # Landlines start with 2-5, so an 8-digit subscriber number starting with 6-9 can only be such a mobile.
        return "+55" + national[:2] + "9" + national[2:]
    return e164


def phone_spellings(e164: str) -> list[str]:
    """The canonical number and the other spellings the same line was stored under before numbers were made
    canonical (rows redacted since keep the keyed hash of the spelling they had): for matching by hash."""
    spellings = [e164]
    if e164.startswith("+52") and len(e164) == 13:
        spellings.append("+521" + e164[3:])
    elif e164.startswith("+55") and len(e164) == 14 and e164[5] == "9":
        spellings.append(e164[:5] + e164[6:])
    return spellings


def phone_written_international(raw: object) -> bool:
    """Whether a number a person typed starts with `+` (any script's plus sign) or `00`: without it, `5522220001` could
    be a national number of any country, and reading it as international would text a stranger."""
    text = digits_fold(str(raw or "").strip())
    return text.startswith(("+", "00"))


def phone_is_premium_or_shared(e164: str) -> bool:
    """Premium-rate, shared-cost and toll-free numbers: no customer receives a code there; texting them is how SMS
    pumping makes money."""
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return False
    return kind in (
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.TOLL_FREE,
    )


def phone_is_valid(raw: object) -> bool:
    try:
        phone_normalize(raw)
    except InvalidPhoneNumber:
        return False
    return True


def phone_address_for(raw: object, e164: str) -> str:
    """The address as the provider wrote it (digits only), when it is not the canonical number's digits: what the
    provider needs to reach the customer (WhatsApp's `521…` ids). "" when they are the same."""
    text = _JID_SUFFIX_RE.sub("", _CHANNEL_PREFIX_RE.sub("", str(raw or "").strip())).split(":", 1)[0]
    digits = re.sub(r"[^0-9]", "", digits_fold(text))
    digits = digits[2:] if digits.startswith("00") else digits
    return digits if digits and digits != e164.lstrip("+") else ""


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


def phone_lookup_hashes(e164: str) -> list[str]:
    """The keyed hashes under which rows of this number may be stored: its canonical form's, and those of the
    spellings used before numbers were made canonical (see phone_spellings)."""
    return [phone_hash(spelling) for spelling in phone_spellings(e164)]
