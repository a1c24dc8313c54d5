"""The one function that masks the phone numbers inside free-form data: `phones_mask(value)`.

It walks any JSON value (a provider's raw payload, a transcript with its tool calls, an analysis, dynamic variables,
metadata, audit data, a message body, a log line) and returns a copy in which every phone-number-like value is masked
the way `phone_mask` masks a number (`+52*******5678`), and nothing else changes.

Two ways to know a phone number:
- by its key: a value under a key that names a phone (`phone`, `number`, `from`, `to`, `caller`, `caller_id`,
  `msisdn`, `whatsapp`, `telefono`…, also in camelCase: `ForwardedFrom`) is masked when it carries six digits or more,
  even as a JSON number; generic children (`value`, `result`) and list items inherit their parent's key;
- by its look, in any text: a run of digits with an optional `+` (also `%2B`, fullwidth `＋`) and single separators
  (space, dash, dot, parentheses) that holds 8 digits or more (7 with a `+`).

Left alone, because they only look numeric: dates and times (`2010-04-01`, `25.11.2026`, `2026-11-25T12:00:00Z`,
`17:24:08.000000+00:00`), decimal amounts (`12345678.90`, `1.234.567,89`), coordinates, IPv4 addresses, UUIDs, ids
that mix letters and digits (`SM…`, `CA…`, `conv_…`, `BLK-20260725-0042`), numbers under keys that are not phones
(unix timestamps, costs, durations) and digit strings under time keys (`RawDlrDoneDate`).

Digits of any script count as digits (`\\d` matches them) and are folded to ASCII in the masked form, so a number
typed with fullwidth digits (`５５１２３４５６７８`) is masked like any other.
"""

import re
import unicodedata
from functools import lru_cache
from typing import Any

from .pii import phone_mask

# Between two digits of a phone number: nothing, one separator, or a parenthesis with an optional separator. A
# separator is a horizontal space, a dash (ASCII or Unicode) or a dot; `+` and `%20`/`%2D`/`%2E` are the URL-encoded
# spellings of a space, a dash and a dot in a query string.
_SEP = r"(?:[^\S\r\n]|[\-.\u2010-\u2015\u2212]|%2[0dDeE]|\+)"
_JOIN = rf"(?:{_SEP}?(?:\(|%28)|(?:\)|%29){_SEP}?|{_SEP})?"
_LEAD = r"(?:[+\uff0b]|%2[bB])"
# A letter or a digit (not an underscore: `cust_5215512345678` is an id glued to a number).
_ALNUM = r"[^\W_]"

_DATE_YMD = r"(?:1[89]|2\d)\d\d(?P<ymd>[\-/.])(?:0?[1-9]|1[0-2])(?P=ymd)(?:0?[1-9]|[12]\d|3[01])"
_DATE_DMY = r"(?:0?[1-9]|[12]\d|3[01])(?P<dmy>[\-/.])(?:0?[1-9]|1[0-2])(?P=dmy)(?:1[89]|2\d)\d\d"
_DATE_MDY = r"(?:0?[1-9]|1[0-2])(?P<mdy>[\-/.])(?:0?[1-9]|[12]\d|3[01])(?P=mdy)(?:1[89]|2\d)\d\d"
_TIME = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d+)?)?(?:Z|[+\-](?:[01]\d|2[0-3]):?[0-5]\d)?"
_KEEP = "|".join(
    [
        # A date, optionally followed by a time (ISO 8601 or with a space), not glued to more digits.
        rf"(?:{_DATE_YMD}|{_DATE_DMY}|{_DATE_MDY})(?:[T ]{_TIME})?(?![\-/.]?\d)",
        # An opening parenthesis right before a date (`(2026-11-01 00:00:00)`): kept, so the date is read as one.
        r"\((?=(?:1[89]|2\d)\d\d[\-/.]|(?:0?[1-9]|[12]\d|3[01])[\-/.](?:0?[1-9]|1[0-2])[\-/.](?:1[89]|2\d)\d\d(?!\d))",
        _TIME + r"(?!\d)",
        # A UUID, and any word that holds a letter (SIDs, hex ids, `conv_…`, `v1`): kept whole.
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w\-])",
        r"[^\W_]*[^\W\d_][^\W_]*",
        # An IPv4 address.
        r"(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![.\d])",
        # Amounts and coordinates: one decimal point after plain digits, or thousands groups with a decimal part.
        r"\d{1,3}(?:\.\d{3})+,\d{1,2}(?![\d.,])",
        r"\d{1,3}(?:,\d{3})+\.\d{1,2}(?![\d.,])",
        r"\d+\.\d{1,2}(?![\d.\-])",
        r"\d{1,3}\.\d+(?![\d.\-])",
    ]
)
# Not glued to a letter or digit before it, nor to a word and a dash (`BLK-20260725-0042` is a reference).
_PHONE = rf"(?<!{_ALNUM})(?<!{_ALNUM}-){_LEAD}?(?:\(|%28)?\d(?:{_JOIN}\d)*"
# Left to right, the first alternative that matches at a position wins: what must be kept is tried before a phone.
_SCAN_RE = re.compile(rf"(?P<keep>{_KEEP})|(?P<phone>{_PHONE})")
_DIGIT_RE = re.compile(r"\d")
_PLUS_RE = re.compile(r"^(?:[+\uff0b]|%2[bB])")
# A word that is letters and then a whole phone number (`cel5215512345678`): the number is masked, the word kept.
_GLUED_RE = re.compile(r"([^\W\d_]+)(\d{8,15})")

MIN_DIGITS = 8  # a run of digits this long is a phone number (an E.164 number has 8 to 15)
MIN_DIGITS_WITH_PLUS = 7
MIN_DIGITS_UNDER_PHONE_KEY = 6

# Words of a key that say its value is a phone number (English, Spanish and the providers' own names).
_PHONE_WORDS = frozenset(
    {
        "phone", "phones", "telephone", "tel", "mobile", "cell", "cellphone", "msisdn", "number", "numbers",
        "caller", "callee", "called", "from", "to", "whatsapp", "jid", "ani", "dnis", "sender", "recipient",
        "telefono", "teléfono", "celular", "movil", "móvil", "numero", "número",
    }
)  # fmt: skip
# A key whose last word is one of these names something about a number, not the number (`phone_number_id`,
# `FromCountry`, `number_of_turns` ends in `turns` and is no phone either, see `_key_is_phone`).
_NOT_A_NUMBER_LAST = frozenset(
    {
        "id", "ids", "sid", "type", "types", "kind", "count", "country", "city", "state", "zip", "region", "name",
        "status", "verified", "valid", "hash", "format", "mode", "length", "prefix", "code", "index", "label",
    }
)  # fmt: skip
# `caller_id` and WhatsApp's `wa_id` end in `id` but hold the number itself.
_PHONE_ID_KEYS = frozenset({("caller", "id"), ("wa", "id"), ("from", "id"), ("sender", "id")})
# Children that carry their parent's meaning (`{"callback_number": {"value": 5215512345678}}`).
_GENERIC_KEYS = frozenset({"value", "values", "result", "results", "raw", "item", "items", "answer"})
# Words of a key that say its value is a time: digit strings under them are timestamps, not numbers.
_TIME_WORDS = frozenset(
    {"timestamp", "time", "date", "at", "secs", "seconds", "ms", "millis", "unix", "epoch", "ts", "datetime"}
)
_KEY_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[^\W\d_A-Z]+|\d+")


def _key_words(key: str) -> tuple[str, ...]:
    return tuple(word.lower() for word in _KEY_WORD_RE.findall(key))


@lru_cache(maxsize=4096)  # keys repeat: every log line, every payload of a provider has the same few
def _key_is_phone(key: str) -> bool:
    words = _key_words(key)
    if not words:
        return False
    if words[-2:] in _PHONE_ID_KEYS:
        return True
    if words[-1] in _NOT_A_NUMBER_LAST or "of" in words:
        return False
    return any(word in _PHONE_WORDS for word in words)


@lru_cache(maxsize=4096)
def _key_is_time(key: str) -> bool:
    words = _key_words(key)
    return bool(words) and words[-1] in _TIME_WORDS


_URL_ESCAPE_RE = re.compile(r"%[0-9A-Fa-f]{2}")


def _digits(text: str) -> str:
    """The digits of `text`, in any script, as ASCII (the digits of a URL escape such as `%2B` are not its own)."""
    return "".join(str(unicodedata.decimal(digit)) for digit in _DIGIT_RE.findall(_URL_ESCAPE_RE.sub("", text)))


def _mask_match(match: re.Match) -> str:
    text = match.group(0)
    if match.group("keep") is not None:
        glued = _GLUED_RE.fullmatch(text)
        return glued.group(1) + phone_mask("+" + _digits(glued.group(2))) if glued else text
    digits = _digits(text)
    has_plus = bool(_PLUS_RE.match(text))
    if len(digits) < (MIN_DIGITS_WITH_PLUS if has_plus else MIN_DIGITS):
        return text
    # A run too long for one number (two numbers side by side, a card number) is masked whole all the same.
    return phone_mask("+" + digits)


# Invisible characters that would split a number into runs too short to be seen as one (zero-width spaces, joiners,
# the word joiner, a byte-order mark, soft hyphens).
_INVISIBLE_RE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")


def _mask_text(text: str) -> str:
    if len(_DIGIT_RE.findall(text)) < MIN_DIGITS_WITH_PLUS:
        return text  # too few digits in all for a phone number: most texts, at the cost of one quick pass
    if _INVISIBLE_RE.search(text):
        text = _INVISIBLE_RE.sub("", text)
    return _SCAN_RE.sub(_mask_match, text)


def _is_only_a_date_or_time(text: str) -> bool:
    match = _SCAN_RE.fullmatch(text.strip())
    return bool(match and match.group("keep") is not None and not text.strip().isdigit())


def _mask_under_phone_key(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            return value
        digits = str(abs(int(value)))
        return phone_mask("+" + digits) if len(digits) >= MIN_DIGITS_UNDER_PHONE_KEY else value
    text = str(value)
    masked = _mask_text(text)
    if masked != text or "*" in text or _is_only_a_date_or_time(text):  # `{"from": "2026-11-01"}`: a date range
        return masked  # masked now, masked already (masking twice changes nothing), or a date
    digits = _digits(text)
    return phone_mask("+" + digits) if len(digits) >= MIN_DIGITS_UNDER_PHONE_KEY else text


def _mask_leaf(value: Any, *, phone_key: bool, time_key: bool) -> Any:
    if phone_key:
        return _mask_under_phone_key(value)
    if isinstance(value, str):
        if time_key and value.replace(".", "", 1).isdigit():
            return value
        return _mask_text(value)
    return value  # numbers under other keys (timestamps, costs, durations), booleans, null


def _walk(value: Any, *, phone_key: bool, time_key: bool) -> Any:
    if isinstance(value, dict):
        masked = {}
        for key, child in value.items():
            name = str(key)
            child_phone = _key_is_phone(name) or (phone_key and name.lower() in _GENERIC_KEYS)
            masked[_mask_text(name) if isinstance(key, str) else key] = _walk(
                child, phone_key=child_phone, time_key=_key_is_time(name)
            )
        return masked
    if isinstance(value, list | tuple):
        return [_walk(item, phone_key=phone_key, time_key=time_key) for item in value]
    return _mask_leaf(value, phone_key=phone_key, time_key=time_key)


def phones_mask(value: Any, *, key: str = "") -> Any:
    """A copy of `value` (any JSON value, or a plain string) with every phone-number-like value masked.

    `key` is the name the value was found under, when known (a log record's attribute, a form field): a phone key
    masks a short or oddly written number, a time key keeps a digit string."""
    return _walk(value, phone_key=bool(key) and _key_is_phone(key), time_key=bool(key) and _key_is_time(key))
