from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from contactcenter.common.durations import InvalidDuration, duration_parse
from interactions.providers.elevenlabs import ElevenLabsApiError
from webhooks.services import calls_reconcile


def _since(value: str):
    """ISO 8601 date/time, or a duration back from now: 90m, 6h, 2d."""
    try:
        return timezone.now() - duration_parse(value)
    except InvalidDuration as exc:
        parsed = parse_datetime(value)
        if parsed is None:
            raise CommandError(f"--since takes an ISO 8601 date/time or a duration. {exc}") from exc
    return parsed if parsed.tzinfo else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = (
        "Fetch from the ElevenLabs conversations API the finished calls whose post-call webhook we never received, "
        "and apply them through the webhook ledger (needs ELEVENLABS_API_KEY). Ends with a summary line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", type=_since, default="24h", help="ISO date/time or duration (default 24h)")
        parser.add_argument("--until", type=_since, help="ISO date/time or duration back from now")
        parser.add_argument("--dry-run", action="store_true", help="list the missing calls, fetch nothing")

    def handle(self, *args, **options):
        since = options["since"] if not isinstance(options["since"], str) else _since(options["since"])
        try:
            report = calls_reconcile(since=since, until=options["until"], dry_run=options["dry_run"])
        except ElevenLabsApiError as exc:
            raise CommandError(str(exc)) from exc
        for conversation_id in report.conversation_ids:
            self.stdout.write(("missing " if report.dry_run else "fetched ") + conversation_id)
        summary = " ".join(f"{key}={value}" for key, value in report.as_dict().items())
        self.stdout.write(self.style.SUCCESS(f"reconciled calls since {since.isoformat()}: {summary}"))
