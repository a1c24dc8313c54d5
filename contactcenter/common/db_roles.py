"""Two database roles on PostgreSQL: the schema's owner, which migrations connect as, and the application's role, which
web, worker and beat connect as and which is granted only what the application needs.

DATABASE_OWNER_URL names the owner (its user, password, host, port and options; the database is DATABASE_URL's), and
DATABASE_URL the application's role. Without DATABASE_OWNER_URL (or with the same user in both) one role does
everything: `make run`, small installs.

What the application's role is granted (`database_roles_apply`, by `setup_database_roles` and after every `migrate`):
CONNECT on the database, USAGE on the schema, on every table of the schema the privileges its model declares in
`app_role_privileges` (the audit table: SELECT, INSERT) or else SELECT, INSERT, UPDATE, DELETE (the rest, TRUNCATE,
REFERENCES and TRIGGER included, is revoked table by table first), USAGE and SELECT on the sequences, EXECUTE on the
functions models declare in `app_role_functions`. It never owns anything, so it can neither ALTER (switch a trigger
off), TRUNCATE nor DROP a table."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import environ
from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

DEFAULT_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
# Tables without a model: what the application's role may do to them.
TABLE_PRIVILEGES = {"django_migrations": ("SELECT",)}
_OWNER_KEYS = ("USER", "PASSWORD", "HOST", "PORT")
_MASK = "********"


class RolesError(Exception):
    """The roles cannot be set up as asked (the application's role is a superuser, a member of the owner…)."""


def owner_settings() -> dict:
    """DATABASE_OWNER_URL as Django connection settings ({} when empty)."""
    url = getattr(settings, "DATABASE_OWNER_URL", "")
    return environ.Env.db_url_config(url) if url else {}


def app_credentials(alias: str = DEFAULT_DB_ALIAS) -> tuple[str, str]:
    """The application's role and its password, from DATABASE_URL."""
    database = connections[alias].settings_dict
    return database.get("USER") or "", database.get("PASSWORD") or ""


def roles_separate(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """True when the owner and the application are two roles (PostgreSQL, DATABASE_OWNER_URL with another user)."""
    owner = owner_settings()
    return (
        connections[alias].vendor == "postgresql"
        and bool(owner.get("USER"))
        and owner.get("USER") != app_credentials(alias)[0]
    )


@contextmanager
def connected_as_owner(alias: str = DEFAULT_DB_ALIAS) -> Iterator[BaseDatabaseWrapper]:
    """For the block, connection `alias` connects with the owner's user, password, host, port and options (to the same
    database name). Outside any transaction: the connection is closed before and after."""
    conn = connections[alias]
    owner = owner_settings()
    wanted = {key: owner.get(key) or "" for key in _OWNER_KEYS}
    saved = {key: conn.settings_dict.get(key) or "" for key in _OWNER_KEYS}
    saved_options = dict(conn.settings_dict.get("OPTIONS") or {})
    if wanted == saved and not owner.get("OPTIONS"):
        yield conn
        return
    if conn.in_atomic_block:
        raise RolesError("cannot connect as the owner inside a transaction")
    conn.close()
    conn.settings_dict.update(wanted)
    conn.settings_dict["OPTIONS"] = {**saved_options, **(owner.get("OPTIONS") or {})}
    try:
        yield conn
    finally:
        conn.close()
        conn.settings_dict.update(saved)
        conn.settings_dict["OPTIONS"] = saved_options


def _declared() -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """Per table, the privileges its model declares; the functions models declare."""
    privileges: dict[str, tuple[str, ...]] = dict(TABLE_PRIVILEGES)
    functions: list[str] = []
    for model in apps.get_models(include_auto_created=True):
        declared = getattr(model, "app_role_privileges", None)
        if declared is not None:
            privileges[model._meta.db_table] = tuple(declared)
        functions.extend(getattr(model, "app_role_functions", ()))
    return privileges, functions


@dataclass
class RolesReport:
    app_role: str
    owner_role: str = ""
    dry_run: bool = False
    role_missing: bool = False
    created: bool = False
    statements: list[str] = field(default_factory=list)
    tables: int = 0
    restricted: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sequences: int = 0
    functions: int = 0

    def summary(self) -> str:
        would = "would " if self.dry_run else ""
        if self.role_missing:
            return (
                f"setup_database_roles: application role {self.app_role} does not exist yet: nothing granted "
                "(`manage.py setup_database_roles` creates it and grants it)."
            )
        role = f"{would}create application role {self.app_role}" if self.created else ""
        if not role:
            role = f"application role {self.app_role} exists"
        elif not self.dry_run:
            role = f"application role {self.app_role} created"
        restricted = "; ".join(
            f"{table}: {', '.join(privileges) or 'nothing'}" for table, privileges in sorted(self.restricted.items())
        )
        text = (
            f"setup_database_roles: {role} (owner {self.owner_role}); {'would grant' if self.dry_run else 'granted'} to {self.app_role}: "
            f"{self.tables} tables ({restricted}), {self.sequences} sequences, {self.functions} functions"
        )
        return text + ("; nothing changed (dry run)." if self.dry_run else ".")


def database_roles_apply(
    *, app_role: str, app_password: str = "", create_role: bool, dry_run: bool = False, alias: str = DEFAULT_DB_ALIAS
) -> RolesReport:
    """Create the application's role if missing (`create_role`) and (re)apply its grants, in one transaction, on
    connection `alias`, which must be connected as the owner. Idempotent. With `dry_run` nothing is changed and the
    statements are listed (the password masked). A role that is missing (without `create_role`) is reported, not an
    error: the first `migrate` runs before `setup_database_roles` creates it."""
    from psycopg import sql

    conn = connections[alias]
    conn.ensure_connection()
    raw = conn.connection
    role = sql.Identifier(app_role)
    report = RolesReport(app_role=app_role, dry_run=dry_run)
    executed: list[tuple[sql.Composable, sql.Composable | None]] = []

    def run(statement: sql.Composable, shown: sql.Composable | None = None) -> None:
        executed.append((statement, shown))

    with raw.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database(), current_schema()")
        owner, database, schema = cursor.fetchone()
        report.owner_role = owner
        if app_role == owner:
            raise RolesError(f"the application role {app_role} is the owner: give DATABASE_URL another user")
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [app_role])
        existing = cursor.fetchone()
        if existing is None:
            if not create_role:
                report.role_missing = True
                return report
            report.created = True
            attributes = sql.SQL("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
            if app_password:
                run(
                    sql.SQL("CREATE ROLE {} {} PASSWORD {}").format(role, attributes, sql.Literal(app_password)),
                    sql.SQL("CREATE ROLE {} {} PASSWORD {}").format(role, attributes, sql.Literal(_MASK)),
                )
            else:
                run(sql.SQL("CREATE ROLE {} {}").format(role, attributes))
        else:
            if existing[0]:
                raise RolesError(f"the application role {app_role} is a superuser: it could bypass every grant")
            cursor.execute("SELECT pg_has_role(%s, %s, 'USAGE')", [app_role, owner])
            if cursor.fetchone()[0]:
                raise RolesError(f"the application role {app_role} is a member of the owner {owner}")

        run(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), role))
        run(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), role))
        run(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(sql.Identifier(schema), role))
        declared, functions = _declared()
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
            [schema],
        )
        for (table,) in cursor.fetchall():
            privileges = declared.get(table, DEFAULT_PRIVILEGES)
            name = sql.Identifier(schema, table)
            run(sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(name, role))
            if privileges:
                listed = sql.SQL(", ").join(sql.SQL(privilege) for privilege in privileges)
                run(sql.SQL("GRANT {} ON TABLE {} TO {}").format(listed, name, role))
            if privileges != DEFAULT_PRIVILEGES:
                report.restricted[table] = privileges
            report.tables += 1
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'S'",
            [schema],
        )
        report.sequences = cursor.fetchone()[0]
        if report.sequences:
            run(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(sql.Identifier(schema), role))
        for signature in functions:
            cursor.execute("SELECT to_regprocedure(%s) IS NOT NULL", [signature])
            if cursor.fetchone()[0]:
                # The signature is code (a model's declaration), never input.
                run(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(signature), role))
                report.functions += 1

    report.statements = [(shown or statement).as_string(raw) + ";" for statement, shown in executed]
    if not dry_run:
        with raw.transaction(), raw.cursor() as cursor:
            for statement, _shown in executed:
                cursor.execute(statement)
    return report
