"""manage.py reconcile_sms: fetch from Twilio the status of SMS stuck in a non-final status and apply it forward-only
(what the beat task does every SMS_RECONCILE_INTERVAL_SECONDS)."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from contactcenter.common.durations import InvalidDuration, duration_parse
from interactions.services import sms_reconcile_run


def _older_than(text: str) -> timedelta:
    try:
        return duration_parse(text, bare_seconds=True)
    except InvalidDuration as exc:
        raise CommandError(f"--older-than: {exc}") from exc


class Command(BaseCommand):
    help = (
        "Fetch from Twilio the status of outbound SMS stuck in `sending` or `sent` for longer than --older-than, and "
        "apply it with the forward-only rule of the status webhook (a status never moves back). Works in batches of "
        "--limit; safe to run while the beat task runs (rows are claimed with SKIP LOCKED)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            default=f"{settings.SMS_RECONCILE_OLDER_THAN_SECONDS}s",
            help="Only messages whose status has not changed for this long: seconds, or 15m, 2h, 1d "
            "(default SMS_RECONCILE_OLDER_THAN_SECONDS).",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=settings.SMS_RECONCILE_BATCH_SIZE,
            help="At most this many messages (default SMS_RECONCILE_BATCH_SIZE).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the messages that would be checked; ask nothing."
        )

    def handle(self, *args, **options):
        older_than = _older_than(options["older_than"])
        limit = options["limit"]
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        report = sms_reconcile_run(older_than=older_than, limit=limit, dry_run=options["dry_run"])
        if options["dry_run"]:
            self.stdout.write(f"reconcile_sms (dry run): {report.checked} message(s) would be checked.")
        else:
            self.stdout.write(
                f"reconcile_sms: checked {report.checked}, moved {report.moved} forward, {report.errors} error(s)."
            )
