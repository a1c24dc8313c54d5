import time

from django.core.management.base import BaseCommand, CommandError

from contactcenter.common.db_roles import connected_as_owner, roles_separate
from metrics.selectors import metrics_rollup_differences, metrics_rollup_supported, metrics_rollup_zone
from metrics.services import metrics_rollup_build, metrics_rollup_fold


class Command(BaseCommand):
    help = (
        "The metrics roll-up (PostgreSQL): --check compares it with a fresh count of every row (read-only, the "
        "default), --fold moves pending deltas into the counts, --build counts everything again in TIME_ZONE (after "
        "a change of TIME_ZONE; as DATABASE_OWNER_URL's role when set; writers to the counted tables wait meanwhile, "
        "about 10 s per million interactions). "
        "Ends with a summary line."
    )

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--check", action="store_true", help="compare with a full recount (default)")
        action.add_argument("--fold", action="store_true", help="fold the pending deltas now")
        action.add_argument("--build", action="store_true", help="count everything again, in TIME_ZONE")
        parser.add_argument("--limit", type=int, default=20, help="differences to list with --check (default 20)")

    def handle(self, *args, check, fold, build, limit, **options):
        if not metrics_rollup_supported():
            raise CommandError("The metrics roll-up needs PostgreSQL; here the metrics are counted live.")
        started = time.monotonic()
        if build:
            # Replacing the zone function and truncating take the owner (DATABASE_OWNER_URL when set, like migrate).
            if roles_separate():
                with connected_as_owner():
                    rows = metrics_rollup_build()
            else:
                rows = metrics_rollup_build()
            self.stdout.write(
                self.style.SUCCESS(
                    f"metrics roll-up built in {metrics_rollup_zone()}: {rows} count rows in "
                    f"{time.monotonic() - started:.1f}s"
                )
            )
            return
        if fold:
            report = metrics_rollup_fold()
            state = "skipped (another fold is running)" if report.skipped else "done"
            self.stdout.write(
                self.style.SUCCESS(f"metrics roll-up fold {state}: {report.deltas} deltas into {report.counts} counts")
            )
            return
        zone = metrics_rollup_zone()
        if zone is None:
            raise CommandError("The metrics roll-up is off: run `manage.py metrics_rollup --build`.")
        differences = metrics_rollup_differences(limit=limit)
        for kind, day, d1, d2, d3, value, fresh, kept in differences:
            self.stdout.write(f"{kind} {day} {d1!r} {d2!r} {d3!r} value={value}: rows say {fresh}, roll-up {kept}")
        summary = f"metrics roll-up ({zone}) checked in {time.monotonic() - started:.1f}s: "
        if differences:
            raise CommandError(summary + f"{len(differences)} keys differ (rebuild with --build)")
        self.stdout.write(self.style.SUCCESS(summary + "exact"))
