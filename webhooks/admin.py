from django.contrib import admin

from contactcenter.common.admin import ReadOnlyAdmin

from .models import InteractionEvent


@admin.register(InteractionEvent)
class InteractionEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "provider", "event_type", "status", "external_ref", "attempts")
    list_filter = ("provider", "status", "event_type")
    search_fields = ("=external_ref", "=idempotency_key")
