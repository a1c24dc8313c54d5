"""Codes, their keyed hashes and the SMS text: the only module that ever holds a code in clear."""

import hashlib
import hmac
import json
import secrets
import unicodedata

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

CODE_LENGTH_MIN = 6
CODE_LENGTH_MAX = 10
CONTEXT_MAX_BYTES = 2048


def code_length() -> int:
    length = settings.OTP_CODE_LENGTH
    if not CODE_LENGTH_MIN <= length <= CODE_LENGTH_MAX:
        raise ImproperlyConfigured(f"OTP_CODE_LENGTH must be between {CODE_LENGTH_MIN} and {CODE_LENGTH_MAX}.")
    return length


def code_generate() -> str:
    """A uniformly random numeric code of OTP_CODE_LENGTH digits (leading zeros kept)."""
    length = code_length()
    return str(secrets.randbelow(10**length)).zfill(length)


def _hmac(message: str) -> str:
    return hmac.new(settings.OTP_HASH_KEY.encode(), message.encode(), hashlib.sha256).hexdigest()


def code_hash(*, challenge_id, code: str) -> str:
    """HMAC-SHA256 keyed by OTP_HASH_KEY over the challenge id and the code: a stolen table cannot be brute-forced
    without the key, and a hash is worthless for any other challenge."""
    return _hmac(f"code:{challenge_id}:{code}")


def code_clean(code: object) -> str | None:
    """The code as the customer typed it, read as ASCII digits (digits of any script are the digits they are,
    spaces and dashes between groups are ignored), or None when it cannot be a code: not only digits, or not
    OTP_CODE_LENGTH of them. Such a code is refused without spending an attempt."""
    if not isinstance(code, str | int) or isinstance(code, bool):
        return None
    text = "".join(str(unicodedata.decimal(char, char)) for char in str(code) if char not in " -\u00a0")
    if len(text) != code_length() or not text.isascii() or not text.isdigit():
        return None
    return text


def code_matches(*, challenge_id, code: str, stored_hash: str) -> bool:
    return hmac.compare_digest(code_hash(challenge_id=challenge_id, code=str(code)), stored_hash)


def context_canonical(context: dict | None) -> str:
    """One JSON text for one context: keys sorted, no spaces. `{"amount": "10.00"}` and `{"amount": 10}` differ."""
    if context is None:
        return ""
    return json.dumps(context, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def context_hash(*, challenge_id, context: dict | None) -> str:
    if context is None:
        return ""
    return _hmac(f"context:{challenge_id}:{context_canonical(context)}")


def context_matches(*, challenge_id, context: dict | None, stored_hash: str) -> bool:
    return hmac.compare_digest(context_hash(challenge_id=challenge_id, context=context), stored_hash)


def request_fingerprint(**fields) -> str:
    """Keyed hash of an idempotent request's meaningful fields (the phone in it is PII: never stored in clear)."""
    return _hmac("request:" + json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def sms_languages() -> list[str]:
    return sorted({lang for texts in settings.OTP_SMS_TEMPLATES.values() for lang in texts})


def sms_body(*, purpose: str, language: str, code: str) -> str:
    templates = settings.OTP_SMS_TEMPLATES
    texts = templates.get(purpose) or templates["default"]
    template = texts.get(language) or templates["default"].get(language) or templates["default"]["en"]
    minutes = max(1, settings.OTP_TTL_SECONDS // 60)
    return template.format(code=code, minutes=minutes)
