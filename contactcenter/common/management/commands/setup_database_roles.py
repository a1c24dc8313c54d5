from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from contactcenter.common.db_roles import (
    RolesError,
    app_credentials,
    connected_as_owner,
    database_roles_apply,
    owner_settings,
)


class Command(BaseCommand):
    help = (
        "Connected as the schema's owner (DATABASE_OWNER_URL), create the application's role named by DATABASE_URL "
        "(LOGIN with DATABASE_URL's password, NOSUPERUSER NOCREATEDB NOCREATEROLE) if it is missing, and grant it what "
        "the application needs: CONNECT, USAGE on the schema, SELECT/INSERT/UPDATE/DELETE on every table but the audit "
        "tables (SELECT and INSERT only; the rest revoked), USAGE/SELECT on the sequences, EXECUTE on audit_purge. "
        "Idempotent; `migrate` re-applies the grants. With one role (no DATABASE_OWNER_URL) there is nothing to grant."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print the SQL (password masked), change nothing.")
        parser.add_argument(
            "--grants-only",
            action="store_true",
            help="Do not create the role (the platform creates it): only (re)apply the grants.",
        )
        parser.add_argument(
            "--app-role",
            default="",
            help="Grant to this role instead of DATABASE_URL's user (created without password).",
        )

    def handle(
        self, *args: Any, dry_run: bool = False, grants_only: bool = False, app_role: str = "", **options: Any
    ) -> None:
        if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
            self.stdout.write("setup_database_roles: not PostgreSQL, one role: nothing to grant.")
            return
        owner = owner_settings()
        if not owner.get("USER"):
            self.stdout.write("setup_database_roles: DATABASE_OWNER_URL is empty, one role: nothing to grant.")
            return
        user, password = app_credentials()
        if app_role and app_role != user:
            user, password = app_role, ""
        if user == owner["USER"]:
            self.stdout.write(
                f"setup_database_roles: DATABASE_URL and DATABASE_OWNER_URL name the same role ({user}), one role: "
                "nothing to grant."
            )
            return
        try:
            with connected_as_owner():
                report = database_roles_apply(
                    app_role=user, app_password=password, create_role=not grants_only, dry_run=dry_run
                )
        except RolesError as exc:
            raise CommandError(f"setup_database_roles: {exc}.") from exc
        if report.role_missing and grants_only:
            raise CommandError(report.summary())
        if dry_run:
            for statement in report.statements:
                self.stdout.write(statement)
        self.stdout.write(self.style.SUCCESS(report.summary()))
