"""Reads of interactions for the API: joins done here, so a page of 50 costs the same queries as a page of 5."""

from collections import Counter

from django.contrib.auth.models import User
from django.db.models import Count, Prefetch, QuerySet

from .models import Interaction, Message


def interaction_list(*, agent: User | None = None) -> QuerySet[Interaction]:
    """Interactions with their assigned agent joined; only those assigned to `agent` when one is given.

    Filtering and ordering are applied on top (interactions/api/filters.py)."""
    queryset = Interaction.objects.select_related("assigned_agent")
    if agent is not None:
        queryset = queryset.filter(assigned_agent=agent)
    return queryset


def interaction_detail_queryset(*, agent: User | None = None) -> QuerySet[Interaction]:
    """Interactions with what the detail shows: agent, call detail and messages (oldest first) in three queries."""
    return (
        interaction_list(agent=agent)
        .select_related("call_detail")
        .prefetch_related(Prefetch("messages", queryset=Message.objects.order_by("created_at", "id")))
    )


def interaction_event_summary(*, interaction: Interaction) -> dict:
    """Counts of the provider events recorded for the interaction, by processing status and by type (one query)."""
    rows = interaction.events.values("status", "event_type").annotate(count=Count("pk")).order_by()
    by_status: Counter = Counter()
    by_type: Counter = Counter()
    for row in rows:
        by_status[row["status"]] += row["count"]
        by_type[row["event_type"] or "unknown"] += row["count"]
    return {"total": sum(by_status.values()), "by_status": dict(by_status), "by_type": dict(by_type)}
