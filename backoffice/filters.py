"""Changelist filters whose choices cost no query over the big tables (no SELECT DISTINCT)."""

from datetime import timedelta

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactcenter.common.roles import sees_only_assigned
from interactions.providers.registry import providers

AGENT_CHOICES_CACHE_KEY = "backoffice:agent-choices"
AGENT_CHOICES_TTL_SECONDS = 60


def known_providers() -> list[tuple[str, str]]:
    return [
        *((provider.record_provider(), provider.label) for provider in providers()),
        ("console", _("Console (development)")),
    ]


class ProviderFilter(admin.SimpleListFilter):
    title = _("provider")
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        return known_providers()

    def queryset(self, request, queryset):
        return queryset.filter(provider=self.value()) if self.value() else queryset


def staff_agent_choices() -> list[tuple[str, str]]:
    """Active staff users (id, username), cached for a minute: the filter renders on every changelist page."""
    choices = cache.get(AGENT_CHOICES_CACHE_KEY)
    if choices is None:
        users = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
        choices = [(str(pk), username) for pk, username in users.values_list("pk", "username")[:500]]
        cache.set(AGENT_CHOICES_CACHE_KEY, choices, AGENT_CHOICES_TTL_SECONDS)
    return choices


class AgentFilter(admin.SimpleListFilter):
    title = _("agent")
    parameter_name = "agent"
    field_path = "assigned_agent"

    def lookups(self, request, model_admin):
        if sees_only_assigned(request.user):
            return []
        return [("none", _("Unassigned")), *staff_agent_choices()]

    def has_output(self):
        return bool(self.lookup_choices)

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if value == "none":
            return queryset.filter(**{f"{self.field_path}__isnull": True})
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(**{f"{self.field_path}_id": int(value)})


class CreatedFilter(admin.SimpleListFilter):
    title = _("date")
    parameter_name = "created"
    field_path = "created_at"
    periods = {"today": 0, "7d": 7, "30d": 30, "90d": 90}

    def lookups(self, request, model_admin):
        return [
            ("today", _("Today")),
            ("7d", _("Past 7 days")),
            ("30d", _("Past 30 days")),
            ("90d", _("Past 90 days")),
        ]

    def queryset(self, request, queryset):
        days = self.periods.get(self.value() or "")
        if days is None:
            return queryset
        start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)
        return queryset.filter(**{f"{self.field_path}__gte": start})
