"""Query filters of GET /api/interactions. Each one is served by an index that carries the newest-first order."""

import re
import uuid

import django_filters
from django import forms
from django.db.models import Q
from rest_framework.exceptions import ValidationError

from contactcenter.common.filters import UtcIsoDateTimeFilter
from contactcenter.common.pii import InvalidPhoneNumber, phone_lookup_hashes, phone_normalize

from ..models import Channel, Direction, Interaction, InteractionStatus
from ..providers.registry import provider_names, providers

# `ordering` values and the (index-backed) order each stands for; both end in `id` so the order is total.
ORDERINGS = {
    "-created_at": ("-created_at", "-id"),
    "created_at": ("created_at", "id"),
}
DEFAULT_ORDERING = "-created_at"


def _phone_hashes_or_error(value: str, field: str) -> list[str]:
    try:
        return phone_lookup_hashes(phone_normalize(value))
    except InvalidPhoneNumber:
        raise ValidationError({field: ["Enter a full phone number in E.164 format, e.g. +5215512345678."]})


class _WholeNumberField(forms.IntegerField):
    """Digits only: `1.5`, `1.0` and `+1` are not ids."""

    def to_python(self, value):
        if value not in self.empty_values and not re.fullmatch(r"[0-9]+", str(value)):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class WholeNumberFilter(django_filters.NumberFilter):
    field_class = _WholeNumberField


class _StrictBooleanField(forms.Field):
    """`true`/`false` (or `1`/`0`, any case); anything else is a 400, not a filter silently left out."""

    widget = forms.TextInput
    default_error_messages = {"invalid": "Give true or false."}
    _VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return self._VALUES[str(value).lower()]
        except KeyError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class StrictBooleanFilter(django_filters.filters.BooleanFilter):
    field_class = _StrictBooleanField


def _known_providers() -> list[str]:
    return [provider.record_provider() for provider in providers()]


class InteractionFilter(django_filters.FilterSet):
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    status = django_filters.ChoiceFilter(choices=InteractionStatus.choices)
    direction = django_filters.ChoiceFilter(choices=Direction.choices)
    provider = django_filters.CharFilter(
        max_length=32, help_text=f"Exact provider name: {', '.join(provider_names())}."
    )
    agent = WholeNumberFilter(
        field_name="assigned_agent_id", min_value=1, help_text="Id of the assigned agent (a user)."
    )
    unassigned = StrictBooleanFilter(
        field_name="assigned_agent", lookup_expr="isnull", help_text="true: only interactions with no agent."
    )
    phone = django_filters.CharFilter(
        method="filter_phone",
        max_length=40,
        help_text="The customer's full number (E.164, e.g. +5215512345678). Matched on its keyed hash, so it finds "
        "interactions whose number is masked in the answer or was redacted.",
    )
    created_after = UtcIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after this ISO 8601 time."
    )
    created_before = UtcIsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Created before this ISO 8601 time."
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=128,
        help_text="Exact match on the interaction id, the provider's external id (conversation id, message SID…), "
        "or the customer's full phone number. No substring search: every form is an index lookup.",
    )
    ordering = django_filters.ChoiceFilter(
        choices=[(key, key) for key in ORDERINGS],
        method="filter_ordering",
        help_text="`-created_at` (newest first, default) or `created_at`.",
    )

    class Meta:
        model = Interaction
        fields = ["channel", "status", "direction", "provider"]

    def filter_phone(self, queryset, name, value):
        return queryset.filter(customer_phone_hash__in=_phone_hashes_or_error(value, "phone"))

    def filter_search(self, queryset, name, value):
        value = value.strip()
        # The unique index is (provider, external_id): naming the providers lets PostgreSQL use it.
        condition = Q(provider__in=_known_providers(), external_id=value)
        try:
            condition |= Q(pk=uuid.UUID(value))
        except ValueError:
            pass
        try:
            condition |= Q(customer_phone_hash__in=phone_lookup_hashes(phone_normalize(value)))
        except InvalidPhoneNumber:
            pass
        return queryset.filter(condition)

    def filter_ordering(self, queryset, name, value):
        return queryset  # applied by KeysetOrdering, which the cursor pagination reads


class KeysetOrdering:
    """Filter backend that orders by a whitelisted, index-backed key (see ORDERINGS). The cursor pagination takes its
    order from `get_ordering`, so a cursor always matches the order of the page it came from."""

    def get_ordering(self, request, queryset, view):
        value = request.query_params.get("ordering", DEFAULT_ORDERING)
        orderings = getattr(view, "orderings", ORDERINGS)
        return orderings.get(value, orderings[DEFAULT_ORDERING])

    def filter_queryset(self, request, queryset, view):
        return queryset.order_by(*self.get_ordering(request, queryset, view))

    def get_schema_operation_parameters(self, view):
        return []  # `ordering` is documented by the FilterSet
