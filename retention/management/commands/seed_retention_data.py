import uuid
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from contactcenter.common.pii import phone_hash
from interactions.models import Interaction, Message


class Command(BaseCommand):
    help = (
        "Seed old interactions (each with one message) for measuring `apply_retention` on a large table, e.g. "
        "`seed_retention_data --count 1000000 --days-old 400` then `apply_retention`. Development and benchmarks "
        "only: refuses to run with DEBUG off unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=10_000, help="Interactions to create (default 10000).")
        parser.add_argument("--days-old", type=int, default=400, help="Their age in days (default 400).")
        parser.add_argument("--channel", choices=["whatsapp", "sms"], default="whatsapp")
        parser.add_argument("--chunk", type=int, default=5000, help="Rows per INSERT transaction.")
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    def handle(self, *args, count, days_old, channel, chunk, force, **options):
        from django.conf import settings

        if not settings.DEBUG and not force:
            raise CommandError("Refusing to seed fake customer data with DEBUG off (add --force on a benchmark box).")
        created_at = timezone.now() - timedelta(days=days_old)
        provider = {"whatsapp": "builderbot", "sms": "twilio"}[channel]
        done = 0
        while done < count:
            size = min(chunk, count - done)
            interactions, messages = [], []
            for index in range(done, done + size):
                phone = f"+52155{index % 100_000_000:08d}"
                interaction = Interaction(
                    id=uuid.uuid4(),
                    channel=channel,
                    direction="inbound",
                    provider=provider,
                    customer_phone=phone,
                    customer_phone_hash=phone_hash(phone),
                    summary="Seeded conversation",
                    started_at=created_at,
                )
                interactions.append(interaction)
                messages.append(
                    Message(
                        interaction=interaction,
                        channel=channel,
                        direction="inbound",
                        status="received",
                        from_phone=phone,
                        body=f"Seeded message {index}",
                        provider=provider,
                    )
                )
            with transaction.atomic():
                Interaction.objects.bulk_create(interactions)
                Message.objects.bulk_create(messages)
                # auto_now_add ignores a given value: age the rows afterwards.
                Interaction.objects.filter(pk__in=[i.pk for i in interactions]).update(created_at=created_at)
                Message.objects.filter(pk__in=[m.pk for m in messages]).update(created_at=created_at)
            done += size
        if connection.vendor == "postgresql":
            # Fresh statistics, as a live database has: without them the planner takes a million rows for a few.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE interactions_interaction, interactions_message")
        self.stdout.write(f"Seeded {done} {channel} interactions and {done} messages, {days_old} days old.")
