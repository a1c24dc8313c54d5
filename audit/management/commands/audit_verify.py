import json
import sys
from typing import Any

from django.core.management.base import BaseCommand

from audit.services import audit_chain_verify


class Command(BaseCommand):
    help = (
        "Walk the audit records' hash chain from its start (or where the last retention purge left it) to its head, "
        "recompute every record's HMAC and name the first broken link: a record edited, a gap (records deleted), "
        "records deleted at the start beyond the last purge anchor, or the tail cut off (a head below the last good "
        "verification's). Records the outcome (reported by /api/health) unless --no-record. Exit code 1 on a break."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the outcome as one JSON object.")
        parser.add_argument(
            "--batch-size", type=int, default=5000, help="Records read per query while walking (default 5000)."
        )
        parser.add_argument(
            "--no-record", action="store_true", help="Do not store the outcome (the next walk compares with it)."
        )

    def handle(
        self, *args: Any, as_json: bool = False, batch_size: int = 5000, no_record: bool = False, **options: Any
    ) -> None:
        report = audit_chain_verify(batch_size=batch_size, trigger="command", record=not no_record)
        if as_json:
            self.stdout.write(json.dumps(report.as_dict()))
        elif report.ok:
            self.stdout.write(self.style.SUCCESS(report.summary()))
        else:
            self.stdout.write(self.style.ERROR(report.summary()))
        if not report.ok:
            sys.exit(1)
