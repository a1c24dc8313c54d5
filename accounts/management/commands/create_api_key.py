from django.core.management.base import BaseCommand, CommandError

from accounts.services import api_key_create
from contactcenter.common.actors import Actor
from contactcenter.common.domain import DomainError
from contactcenter.common.roles import API_KEY_ROLES


class Command(BaseCommand):
    help = (
        "Issue an API key for a machine client. The key is printed once, alone on the last line; only its hash is "
        "stored. Revoke keys in the admin (Accounts → API keys)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="A name for the client, e.g. 'ivr-production' (1 to 50 characters).")
        parser.add_argument("--role", required=True, choices=sorted(API_KEY_ROLES), help="What the client may do.")
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help="Days until the key expires (default and most: API_KEY_MAX_DAYS, 365).",
        )

    def handle(self, *args, name, role, expires_days, **options):
        try:
            api_key, key = api_key_create(
                name=name, role=role, expires_days=expires_days, actor=Actor.system("create_api_key")
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        expiry = api_key.expiry_date.isoformat()
        self.stdout.write(
            f"Created API key '{api_key.name}' (prefix {api_key.prefix}, role {api_key.role}, expires {expiry}). "
            "Store it now: it cannot be shown again."
        )
        self.stdout.write(key)
