from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from audit.services import Actor
from contactcenter.common.admin import ReadOnlyAdmin

from .models import InteractionEvent
from .services import webhook_event_replay


@admin.register(InteractionEvent)
class InteractionEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "provider", "event_type", "status", "external_ref", "attempts")
    list_filter = ("provider", "status", "event_type")
    search_fields = ("=external_ref", "=idempotency_key")
    actions = ["replay_events"]

    def get_exclude(self, request, obj=None):
        # The raw payload holds customers' numbers and texts: shown only to who may see PII.
        return () if request.user.has_perm("interactions.view_pii") else ("payload",)

    def has_replay_permission(self, request) -> bool:
        return request.user.has_perm("webhooks.change_interactionevent")

    @admin.action(description=_("Replay selected events (failed, deferred or unapplied)"), permissions=["replay"])
    def replay_events(self, request, queryset):
        actor = Actor.user(request.user)
        outcomes: dict[str, int] = {}
        for event_id in queryset.order_by("received_at").values_list("pk", flat=True)[:500]:
            status = webhook_event_replay(event_id=event_id, actor=actor)
            outcomes[status] = outcomes.get(status, 0) + 1
        summary = ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items())) or "nothing"
        self.message_user(request, _("Replayed: %(summary)s.") % {"summary": summary}, messages.SUCCESS)
