from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from contactcenter.common.durations import InvalidDuration, duration_parse
from otp.services import otp_challenges_purge


def _older_than(text: str) -> timedelta:
    try:
        return duration_parse(text)
    except InvalidDuration as exc:
        raise CommandError(f"--older-than: {exc}") from exc


class Command(BaseCommand):
    help = (
        "Mark pending OTP challenges past their expiry as expired, then delete challenges created longer ago than "
        "--older-than (and idempotency records past their time), in batches. Writes one audit record."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than", default="30d", help="Age of the challenges to delete: 30d, 12h, 90m… (30d)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; change nothing.")

    def handle(self, *args, **options):
        older_than = _older_than(options["older_than"])
        if older_than <= timedelta(0):
            raise CommandError("--older-than must be more than zero.")
        report = otp_challenges_purge(older_than=older_than, dry_run=options["dry_run"])
        prefix = "Dry run: would have " if options["dry_run"] else ""
        self.stdout.write(
            f"{prefix}expired {report['expired']} overdue challenge(s), deleted {report['deleted']} challenge(s) "
            f"older than {options['older_than']} and {report['idempotency_deleted']} idempotency record(s)."
        )
