from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from contactcenter.common.actors import Actor
from interactions.providers.registry import provider_names
from webhooks.models import EventStatus
from webhooks.services import webhook_event_replay, webhook_events_select


def _when(value: str):
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"not a date and time (ISO 8601): {value!r}")
    return parsed


class Command(BaseCommand):
    help = (
        "Apply stored webhook events again: by id, or by provider, status and time range (default: the failed "
        "ones). Processed and ignored events are never applied twice. Ends with a summary line."
    )

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", help="event ids (UUIDs)")
        parser.add_argument("--provider", choices=provider_names())
        parser.add_argument(
            "--status",
            action="append",
            choices=[EventStatus.FAILED, EventStatus.DEFERRED, EventStatus.RECEIVED],
            help="statuses to replay (repeatable; default: failed)",
        )
        parser.add_argument("--since", type=_when, help="received at or after (ISO 8601)")
        parser.add_argument("--until", type=_when, help="received before (ISO 8601)")
        parser.add_argument("--limit", type=int, default=1000, help="at most this many events (default 1000)")
        parser.add_argument("--dry-run", action="store_true", help="list what would be replayed, change nothing")

    def handle(self, *args, **options):
        events = webhook_events_select(
            ids=options["ids"] or None,
            provider=options["provider"],
            statuses=options["status"],
            since=options["since"],
            until=options["until"],
        )[: options["limit"]]
        actor = Actor.system("replay_webhook_events")
        outcomes: dict[str, int] = {}
        selected = 0
        for event in events.only("pk", "provider", "event_type", "status"):
            selected += 1
            if options["dry_run"]:
                self.stdout.write(f"{event.pk} {event.provider} {event.event_type} {event.status}")
                continue
            status = webhook_event_replay(event_id=event.pk, actor=actor)
            outcomes[status] = outcomes.get(status, 0) + 1
            self.stdout.write(f"{event.pk} {event.provider} {event.event_type} {event.status} -> {status}")
        summary = " ".join(f"{status}={count}" for status, count in sorted(outcomes.items()))
        prefix = "dry run: would replay" if options["dry_run"] else "replayed"
        self.stdout.write(self.style.SUCCESS(f"{prefix} {selected} event(s) {summary}".rstrip()))
