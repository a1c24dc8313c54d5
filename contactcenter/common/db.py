import hashlib

from django.db import connection
from django.db.models import Model


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


_INSERT_SQL_CACHE: dict[type[Model], str] = {}


def model_insert(instance: Model) -> None:
    """INSERT one new row for `instance`, as `instance.save(force_insert=True)` would, without the ORM's query building
    (which costs more than the statement on the ingest path). Fields' `pre_save` runs (auto_now_add, auto_now), values
    are prepared by their fields; no model signals are sent, so use it only for models whose `save` is not overridden
    and that nothing listens to. The primary key must be set already (a Python-side default)."""
    model = type(instance)
    fields = [field for field in model._meta.local_concrete_fields if not field.generated]
    sql = _INSERT_SQL_CACHE.get(model)
    if sql is None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(field.column)) for field in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
        _INSERT_SQL_CACHE[model] = sql
    params = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    instance._state.adding = False
    instance._state.db = connection.alias
