"""Deploy checks on the database roles: the application should not connect as the owner of the audit table."""

import environ
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

ROLES_HINT = (
    "Set DATABASE_OWNER_URL to the schema owner's URL (used by `migrate` and `setup_database_roles`) and DATABASE_URL "
    'to the application\'s role: docs/operations.md "Database roles".'
)


@register(Tags.security, deploy=True)
def database_roles_check(app_configs=None, **kwargs):
    owner_url = getattr(settings, "DATABASE_OWNER_URL", "")
    database = settings.DATABASES["default"]
    if not owner_url:
        return [
            Warning(
                "DATABASE_OWNER_URL is empty: the application connects as the owner of the audit table, which can "
                "switch off its append-only trigger, truncate it or delete from it.",
                hint=ROLES_HINT,
                id="audit.W001",
            )
        ]
    try:
        owner = environ.Env.db_url_config(owner_url)
    except Exception as exc:  # a malformed URL is named, not raised
        return [Error(f"DATABASE_OWNER_URL cannot be read: {type(exc).__name__}.", hint=ROLES_HINT, id="audit.E001")]
    problems = []
    if owner.get("ENGINE") != database.get("ENGINE") or owner.get("NAME") != database.get("NAME"):
        problems.append(
            Warning(
                "DATABASE_OWNER_URL and DATABASE_URL name different databases: migrations would run on another one "
                "(unless a connection pooler gives the same database another name).",
                hint=ROLES_HINT,
                id="audit.W003",
            )
        )
    elif owner.get("USER") == database.get("USER"):
        problems.append(
            Warning(
                "DATABASE_OWNER_URL and DATABASE_URL name the same role: the application connects as the owner of "
                "the audit table.",
                hint=ROLES_HINT,
                id="audit.W002",
            )
        )
    return problems
