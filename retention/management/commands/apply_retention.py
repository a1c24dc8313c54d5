from django.core.management.base import BaseCommand

from retention.services import retention_apply


class Command(BaseCommand):
    help = (
        "Apply the data retention policy (settings.RETENTION_POLICY): redact and delete what is older than each rule's "
        "threshold, in batches of at most 1000 rows, one audit record per batch. With --dry-run, only print what it "
        "would do, per channel and kind of data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what is due; change nothing.")
        parser.add_argument(
            "--max-seconds",
            type=float,
            default=None,
            help="Stop between batches after this many seconds (the rest is left for the next run).",
        )

    def handle(self, *args, dry_run=False, max_seconds=None, **options):
        report = retention_apply(dry_run=dry_run, trigger="command", max_seconds=max_seconds)
        if report.skipped:
            self.stderr.write(report.summary())
            return
        verb = {"redact": "would redact" if dry_run else "redacted", "delete": "would delete" if dry_run else "deleted"}
        for result in report.results:
            rule = result.rule
            tables = ", ".join(f"{label} {count}" for label, count in sorted(result.counts.items()) if count)
            self.stdout.write(
                f"{rule.channel:<9} {rule.kind:<15} {verb[rule.action]:<13} {result.rows:>9} rows "
                f"(older than {rule.after_days} days, before {result.cutoff:%Y-%m-%d %H:%M})"
                + (f": {tables}" if tables else "")
            )
        self.stdout.write(report.summary())
