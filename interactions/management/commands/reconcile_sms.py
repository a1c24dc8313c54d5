"""manage.py reconcile_sms: fetch from Twilio the status of SMS stuck in a non-final status and apply it forward-only
(what the beat task does every SMS_RECONCILE_INTERVAL_SECONDS)."""

import re
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from interactions.services import sms_reconcile_run

_DURATION_RE = re.compile(r"^(\d+)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`900`, `900s`, `15m`, `2h`, `1d`."""
    match = _DURATION_RE.match(text.strip().lower())
    if not match:
        raise CommandError(f"Unreadable duration {text!r}: use seconds or a number with s, m, h or d (e.g. 15m).")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


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
        older_than = parse_duration(options["older_than"])
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
