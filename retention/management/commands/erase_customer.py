import getpass

from django.core.management.base import BaseCommand, CommandError

from contactcenter.common.actors import Actor
from contactcenter.common.domain import DomainError
from retention.services import customer_erase


class Command(BaseCommand):
    help = (
        "Erase one customer's personal data now, whatever its age: every interaction, message, transcript, recording, "
        "raw webhook event and OTP challenge of the phone number is redacted (the keyed hash stays, so the history is "
        "still found by the full number). Audited with the reason."
    )

    def add_arguments(self, parser):
        parser.add_argument("--phone", required=True, help="The customer's phone number, in international format.")
        parser.add_argument("--reason", required=True, help="Why (a ticket or request reference); kept in the audit.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be redacted; change nothing.")

    def handle(self, *args, phone, reason, dry_run=False, **options):
        actor = Actor.system(label=f"erase_customer ({getpass.getuser()})"[:150])
        try:
            result = customer_erase(phone=phone, reason=reason, actor=actor, dry_run=dry_run)
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        for label, count in result["counts"].items():
            self.stdout.write(f"{label:<16} {count:>7}")
        verb = "would redact" if dry_run else "redacted"
        total = sum(count for label, count in result["counts"].items() if label != "recording_files")
        self.stdout.write(f"Customer {result['phone']}: {verb} {total} rows.")
