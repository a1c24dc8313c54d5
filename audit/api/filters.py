import django_filters
from rest_framework.exceptions import ValidationError

from contactcenter.common.filters import UtcIsoDateTimeFilter

from ..models import AuditLog


class AuditLogFilter(django_filters.FilterSet):
    """Each filter matches an index of the audit table that carries the newest-first order."""

    actor_type = django_filters.ChoiceFilter(choices=AuditLog.ActorType.choices)
    actor = django_filters.CharFilter(
        method="filter_actor",
        max_length=64,
        help_text="Exact actor id: a user id, an API key prefix, a provider name.",
    )
    action = django_filters.CharFilter(max_length=64, help_text="Exact action, e.g. `interaction.assigned`.")
    target_type = django_filters.CharFilter(max_length=64, help_text="e.g. `interaction`, `message`, `api_key`.")
    target_id = django_filters.CharFilter(
        method="filter_target_id", max_length=64, help_text="Exact id of the target; needs `target_type`."
    )
    created_after = UtcIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="At or after this ISO 8601 time."
    )
    created_before = UtcIsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Before this ISO 8601 time."
    )

    class Meta:
        model = AuditLog
        fields = ["actor_type", "actor", "action", "target_type", "target_id"]

    def filter_actor(self, queryset, name, value):
        if not self.form.cleaned_data.get("actor_type"):
            # The index is (actor_type, actor_id, -created_at): naming every type keeps it usable.
            queryset = queryset.filter(actor_type__in=AuditLog.ActorType.values)
        return queryset.filter(actor_id=value)

    def filter_target_id(self, queryset, name, value):
        if not self.form.cleaned_data.get("target_type"):
            raise ValidationError({"target_id": ["Give target_type with target_id."]})
        return queryset.filter(target_id=value)
