"""The audit records' hash chain: what one link is made of.

Record n carries `chain_seq` = n and `chain_hash` = HMAC-SHA256(AUDIT_CHAIN_KEY, hash of record n-1 | canonical form of
record n). The key lives in the application's settings, never in the database, so whoever edits or deletes rows in
the database (its superuser included) cannot compute the hashes that would hide it: `audit_verify` recomputes them.

The canonical form is what the database gives back, whatever was handed to it: `created_at` in UTC to the microsecond,
the address in its exploded form, `data` as canonical JSON (keys sorted, no spaces, UTF-8; a float that is a whole
number written as an integer, as PostgreSQL's jsonb may give it back). Changing it breaks every existing chain: do not.
"""

import hashlib
import hmac
import ipaddress
import json
import math
from datetime import UTC, datetime

from django.conf import settings

# The hash "before" the first record of a chain.
GENESIS = "0" * 64
# Fields of a record the hash covers, in this order (`chain_seq` first).
FIELDS = (
    "chain_seq",
    "created_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "data",
    "ip_address",
    "request_id",
)


def chain_key() -> bytes:
    return settings.AUDIT_CHAIN_KEY.encode()


def json_normalize(value):
    """`value` as it comes back from the database's JSON column: JSON types only, whole floats as integers."""
    if isinstance(value, dict):
        return {str(key): json_normalize(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_normalize(item) for item in value]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def data_canonical(data):
    """`data` as the database stores it: a round trip through JSON (tuples become lists, keys strings), normalized."""
    return json_normalize(json.loads(json.dumps(data if data is not None else {})))


def ip_canonical(value: object) -> str:
    if not value:
        return ""
    text = str(value)
    try:
        address = ipaddress.ip_address(text.split("/", 1)[0])
    except ValueError:
        return text
    return address.exploded if address.version == 6 else str(address)


def time_canonical(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_canonical(row: dict) -> bytes:
    """The bytes a link's HMAC covers, from a record's fields by name (a model's attnames)."""
    parts = [
        int(row["chain_seq"]),
        time_canonical(row["created_at"]),
        row.get("actor_type") or "",
        row.get("actor_id") or "",
        row.get("actor_label") or "",
        row.get("action") or "",
        row.get("target_type") or "",
        row.get("target_id") or "",
        data_canonical(row.get("data")),
        ip_canonical(row.get("ip_address")),
        row.get("request_id") or "",
    ]
    return json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(*, prev_hash: str, row: dict, key: bytes | None = None) -> str:
    message = prev_hash.encode() + b"|" + record_canonical(row)
    return hmac.new(key or chain_key(), message, hashlib.sha256).hexdigest()


def link_valid(*, prev_hash: str, row: dict, key: bytes | None = None) -> bool:
    return hmac.compare_digest(link_hash(prev_hash=prev_hash, row=row, key=key), row.get("chain_hash") or "")
