from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from audit.models import AuditLog, AuditVerification
from backoffice.filters import CreatedFilter
from backoffice.paginator import CappedCountPaginator
from backoffice.selectors import pretty_json
from contactcenter.common.roles import sees_only_assigned

from .base import ReadOnlyAdmin


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    """The audit trail: readable by supervisors and auditors, never added, changed or deleted from the admin (the
    table itself refuses UPDATE and DELETE on PostgreSQL)."""

    list_display = ("created_at", "actor_type", "actor_label", "action", "target_type", "target_id", "ip_address")
    list_filter = ("actor_type", CreatedFilter)
    search_fields = ("=target_id", "=actor_id", "=request_id", "=action")
    search_help_text = _("An exact target id, actor id, request id or action (e.g. interaction.pii_viewed).")
    paginator = CappedCountPaginator
    sortable_by = ()
    exclude = ("data",)
    readonly_fields = ("pretty_data",)

    def get_queryset(self, request):
        # ReadOnlyAdmin's agent scoping does not apply: agents do not see the audit log at all.
        return admin.ModelAdmin.get_queryset(self, request)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        # Each alternative is served by its own index (target, actor, action); request ids are rare lookups.
        return (
            queryset.filter(target_id=term)
            | queryset.filter(actor_id=term)
            | queryset.filter(action=term)
            | queryset.filter(request_id=term)
        ), False

    def has_view_permission(self, request, obj=None):
        return not sees_only_assigned(request.user) and super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return not sees_only_assigned(request.user) and super().has_module_permission(request)

    @admin.display(description=_("data"))
    def pretty_data(self, obj):
        from django.utils.html import format_html

        return format_html("<pre class='cc-json'>{}</pre>", pretty_json(obj.data) or "{}")


@admin.register(AuditVerification)
class AuditVerificationAdmin(ReadOnlyAdmin):
    """Each walk of the audit chain (the daily task, `manage.py audit_verify`): intact, or the first broken link."""

    list_display = ("verified_at", "ok", "rows", "head_seq", "problem", "broken_seq", "broken_id", "trigger")
    list_filter = ("ok", "problem")
    sortable_by = ()

    def get_queryset(self, request):
        return admin.ModelAdmin.get_queryset(self, request)

    def has_view_permission(self, request, obj=None):
        return not sees_only_assigned(request.user) and super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return not sees_only_assigned(request.user) and super().has_module_permission(request)
