"""Base classes of the back office's admin pages: role scoping and read-only provider data."""

from django.contrib import admin

from contactcenter.common.roles import is_auditor, sees_only_assigned


class RoleScopedAdmin(admin.ModelAdmin):
    """Agents see only rows of interactions assigned to them; auditors change nothing.

    `agent_scope` is the lookup from this model to the interaction's assigned agent (e.g. `interaction__assigned_agent`).
    """

    agent_scope = "assigned_agent"
    show_full_result_count = False
    # Facet counts run one COUNT per filter choice: never on tables of millions of rows.
    show_facets = admin.ShowFacets.NEVER

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if sees_only_assigned(request.user):
            queryset = queryset.filter(**{self.agent_scope: request.user})
        return queryset

    def has_add_permission(self, request):
        return not is_auditor(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return not is_auditor(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not is_auditor(request.user) and super().has_delete_permission(request, obj)


class ReadOnlyAdmin(RoleScopedAdmin):
    """For data that comes from providers or records what happened: visible, never added, edited or deleted by hand,
    not even by a superuser."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
