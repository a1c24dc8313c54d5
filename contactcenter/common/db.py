import hashlib

from django.db import connection


def advisory_xact_lock(key: str) -> None:
    """Serialise concurrent transactions on `key` until the current transaction ends (PostgreSQL advisory lock).

    For rules a unique constraint cannot express (a sliding-window count, "continue the open conversation or open a
    new one"). On SQLite, which serialises writers anyway, it does nothing."""
    if connection.vendor != "postgresql":
        return
    lock_id = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
