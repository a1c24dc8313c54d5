"""`migrate`, connected as the schema's owner when DATABASE_OWNER_URL is set, then granting the application's role
what it may do on every table (tables created by these migrations included): contactcenter/common/db_roles.py.
Without DATABASE_OWNER_URL, Django's own `migrate`, unchanged."""

from django.core.management.base import CommandError
from django.core.management.commands import migrate
from django.db import DEFAULT_DB_ALIAS

from contactcenter.common.db_roles import (
    RolesError,
    app_credentials,
    connected_as_owner,
    database_roles_apply,
    roles_separate,
)


class Command(migrate.Command):
    help = (
        migrate.Command.help + " With DATABASE_OWNER_URL set, connects as the schema's owner and then grants the "
        "application's role (DATABASE_URL's user) what it may do (see `setup_database_roles`)."
    )

    def handle(self, *args, **options):
        alias = options["database"]
        if alias != DEFAULT_DB_ALIAS or not roles_separate(alias):
            return super().handle(*args, **options)
        app_role, _ = app_credentials(alias)
        with connected_as_owner(alias):
            super().handle(*args, **options)
            if options.get("plan") or options.get("check_unapplied"):
                return None
            try:
                report = database_roles_apply(app_role=app_role, create_role=False, alias=alias)
            except RolesError as exc:
                raise CommandError(f"migrate: {exc}.") from exc
        if options["verbosity"] >= 1:
            self.stdout.write(report.summary())
        return None
