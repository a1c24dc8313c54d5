"""Measure the back office's pages on the current database (e.g. after `seed_demo --interactions 1000000`).

Prints, for the interactions changelist, page 1, an exact phone search and each filter: the median time of a few
requests and the number of queries. Measures only; the test suite asserts the query budget, never a time."""

import statistics
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from interactions.models import Interaction

URL = "/admin/interactions/interaction/"


class Command(BaseCommand):
    help = "Time the interactions changelist (page 1, phone search, each filter) as a superuser; prints a table."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="bench.admin", help="Superuser to use (created if missing).")
        parser.add_argument("--repeat", type=int, default=5, help="Requests per page; the median is shown.")

    def handle(self, *args, username, repeat, **options):
        if "testserver" not in settings.ALLOWED_HOSTS and not settings.DEBUG:
            raise CommandError("Run with DEBUG=true (or add 'testserver' to ALLOWED_HOSTS).")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            user = get_user_model().objects.create_superuser(username=username, password=None)
        device = TOTPDevice.objects.filter(user=user).first() or TOTPDevice.objects.create(user=user, name="bench")
        client = Client()
        client.force_login(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()

        sample = Interaction.objects.exclude(customer_phone="").order_by("-created_at").first()
        pages = [("page 1", "")]
        if sample is not None:
            pages.append(("phone search", "?q=" + sample.customer_phone.replace("+", "%2B")))
            if sample.external_id:
                pages.append(("external id search", f"?q={sample.external_id}"))
        pages += [
            ("filter channel", "?channel__exact=sms"),
            ("filter status", "?status__exact=failed"),
            ("filter direction", "?direction__exact=outbound"),
            ("filter provider", "?provider=twilio"),
            (
                "filter agent",
                f"?agent={sample.assigned_agent_id}" if sample and sample.assigned_agent_id else "?agent=none",
            ),
            ("filter date", "?created=7d"),
            ("filters combined", "?channel__exact=call&status__exact=completed&created=30d"),
            ("deepest page (200)", "?p=200"),
        ]
        self.stdout.write(f"{'page':<22} {'median ms':>10} {'queries':>8}  url")
        for label, query in pages:
            client.get(URL + query)  # warm caches, as a second visitor would find them
            times = []
            for _ in range(repeat):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    response = client.get(URL + query)
                    times.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    break
            if response.status_code != 200:
                self.stdout.write(f"{label:<22} {'-':>10} {'-':>8}  {URL + query} (answered {response.status_code})")
                continue
            self.stdout.write(f"{label:<22} {statistics.median(times):>10.1f} {len(queries):>8}  {URL + query}")
