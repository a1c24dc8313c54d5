"""What every provider's `read` does with a body: parse it (JSON or form data, made storable, refused with a 400 when
it is not data at all), and derive the ledger's idempotency keys from ids or, lacking one, from the content."""

import hashlib
import json

from contactcenter.common.parsers import JSON_MAX_DEPTH, BodyUnreadable, form_body_load, json_body_parse, json_storable

from .base import BodyRejected

FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"


def json_body_read(raw: bytes) -> tuple[object, bool]:
    """(the JSON value made storable, whether that changed anything); BodyRejected for a body that is not JSON or is
    nested too deep."""
    try:
        return json_storable(json_body_parse(raw), max_depth=JSON_MAX_DEPTH)
    except BodyUnreadable as exc:
        raise BodyRejected(400, exc.code, exc.detail) from exc


def form_body_read(raw: bytes) -> tuple[dict, bool]:
    """(the form's fields made storable, whether that changed anything); BodyRejected for too many fields."""
    try:
        return form_body_load(raw)
    except BodyUnreadable as exc:
        raise BodyRejected(400, exc.code, exc.detail) from exc


def body_hash(value: object) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    # surrogatepass: a lone surrogate (in a value nobody made storable first) must not make hashing fail.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def idempotency_key(*parts: str) -> str:
    """The parts joined by `:`; hashed when longer than the ledger's column."""
    key = ":".join(parts)
    return key if len(key) <= 255 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()
