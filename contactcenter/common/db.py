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


def integrity_error_names(exc: BaseException, constraint: str) -> bool:
    """True when the IntegrityError `exc` is a violation of the constraint named `constraint`: PostgreSQL names it;
    SQLite names only the columns, so any unique violation counts there."""
    diag = getattr(exc.__cause__, "diag", None)
    if diag is not None:
        return getattr(diag, "constraint_name", None) == constraint
    return "UNIQUE constraint failed" in str(exc)
