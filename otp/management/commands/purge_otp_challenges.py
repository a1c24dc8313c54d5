import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from otp.services import otp_challenges_purge

_DURATION_RE = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration_parse(text: str) -> timedelta:
    """`30d`, `12h`, `90m`, `3600s`, `2w` → a timedelta."""
    match = _DURATION_RE.match(text.strip().lower())
    if not match:
        raise CommandError(f"--older-than must look like 30d, 12h, 90m or 3600s (got {text!r}).")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


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
        older_than = duration_parse(options["older_than"])
        if older_than <= timedelta(0):
            raise CommandError("--older-than must be more than zero.")
        report = otp_challenges_purge(older_than=older_than, dry_run=options["dry_run"])
        prefix = "Dry run: would have " if options["dry_run"] else ""
        self.stdout.write(
            f"{prefix}expired {report['expired']} overdue challenge(s), deleted {report['deleted']} challenge(s) "
            f"older than {options['older_than']} and {report['idempotency_deleted']} idempotency record(s)."
        )
