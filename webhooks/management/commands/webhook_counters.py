import json

from django.core.management.base import BaseCommand

from interactions.providers.registry import provider_names
from webhooks.counters import webhook_counters


class Command(BaseCommand):
    help = (
        "Print the webhook delivery counters kept in the cache (received, duplicate, processed, failed, rejected "
        "by token or signature, signature failures let through in log_only mode…) per provider, as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("--provider", choices=provider_names())

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(webhook_counters(options["provider"]), indent=2, sort_keys=True))
