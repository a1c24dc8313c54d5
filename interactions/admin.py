from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from contactcenter.common.admin import ReadOnlyAdmin
from contactcenter.common.pii import phone_mask

from .models import CallDetail, Interaction, Message


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "channel",
        "direction",
        "status",
        "masked_phone",
        "provider",
        "assigned_agent",
        "started_at",
        "last_activity_at",
    )
    list_filter = ("channel", "status", "direction", "provider")
    list_select_related = ("assigned_agent",)
    show_full_result_count = False
    fields = (
        "channel",
        "direction",
        "status",
        "masked_phone",
        "provider",
        "external_id",
        "assigned_agent",
        "started_at",
        "ended_at",
        "last_activity_at",
        "summary",
    )
    readonly_fields = (
        "channel",
        "direction",
        "masked_phone",
        "provider",
        "external_id",
        "started_at",
        "ended_at",
        "last_activity_at",
        "summary",
    )

    @admin.display(description=_("customer phone"))
    def masked_phone(self, obj):
        return phone_mask(obj.customer_phone)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "channel", "direction", "status", "masked_to", "provider", "error_code", "created_at")
    list_filter = ("channel", "direction", "status")
    exclude = ("body", "to_phone", "from_phone")
    readonly_fields = ("masked_to", "shown_body")

    @admin.display(description=_("to"))
    def masked_to(self, obj):
        return phone_mask(obj.to_phone)

    @admin.display(description=_("body"))
    def shown_body(self, obj):
        return _("(hidden: contains a one-time code)") if obj.is_sensitive else obj.body


@admin.register(CallDetail)
class CallDetailAdmin(ReadOnlyAdmin):
    list_display = ("conversation_id", "agent_name", "duration_seconds", "call_successful", "created_at")
    exclude = ("customer_number",)
