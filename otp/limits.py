"""Fixed-window counters per API client in the database (verifications), one atomic upsert each: correct under any
concurrency, no Redis needed."""

import math
from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone

from .models import OtpClientCounter


def client_counter_increment(*, client_id: str, window_seconds: int, now: datetime | None = None) -> tuple[int, float]:
    """Count one more event of `client_id` in the current window. Returns (count so far in the window including
    this one, seconds until the window ends)."""
    now = now or timezone.now()
    epoch = now.timestamp()
    start = math.floor(epoch / window_seconds) * window_seconds
    window_start = datetime.fromtimestamp(start, tz=UTC)
    table = connection.ops.quote_name(OtpClientCounter._meta.db_table)
    with connection.cursor() as cursor:
        # Identifiers come from the model; every value is a parameter.
        cursor.execute(
            f"INSERT INTO {table} (client_id, window_start, verifications) VALUES (%s, %s, 1) "  # noqa: S608
            f"ON CONFLICT (client_id, window_start) DO UPDATE SET verifications = {table}.verifications + 1 "
            "RETURNING verifications",
            [client_id, window_start],
        )
        (count,) = cursor.fetchone()
    return count, start + window_seconds - epoch
