from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from backoffice.filters import CreatedFilter, ProviderFilter
from backoffice.paginator import CappedCountPaginator
from backoffice.selectors import pretty_json
from contactcenter.common.actors import Actor
from contactcenter.common.masking import phones_mask
from webhooks.models import InteractionEvent
from webhooks.services import webhook_event_replay

from .base import ReadOnlyAdmin


class ReceivedFilter(CreatedFilter):
    field_path = "received_at"


@admin.register(InteractionEvent)
class InteractionEventAdmin(ReadOnlyAdmin):
    """The raw provider deliveries, read-only, with their processing outcome; selected events can be replayed."""

    agent_scope = "interaction__assigned_agent"
    # Identifiers come from the provider and may hold a number (a JID as a message id, a SIP call id): masked.
    list_display = ("received_at", "provider", "masked_event_type", "status", "masked_external_ref", "attempts")
    # Static choices and an indexed time range: no SELECT DISTINCT over the ledger.
    list_filter = (ProviderFilter, "status", ReceivedFilter)
    search_fields = ("=external_ref", "=idempotency_key")
    paginator = CappedCountPaginator
    sortable_by = ()
    actions = ["replay_events"]
    # The raw payload holds customers' numbers and texts: shown pretty-printed with every phone number in it masked,
    # by the one masking function (the full number is revealed, with a reason, on the interaction's page). The error
    # text may quote the payload (a database error echoes the failing row): masked too. The raw body is never shown.
    exclude = ("payload", "headers", "normalized", "error", "raw_body", "event_type", "external_ref", "idempotency_key")
    readonly_fields = (
        "masked_event_type",
        "masked_external_ref",
        "masked_idempotency_key",
        "pretty_payload",
        "pretty_normalized",
        "masked_error",
    )

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(external_ref=term) | queryset.filter(idempotency_key=term), False

    @admin.display(description=_("event type"))
    def masked_event_type(self, obj):
        return phones_mask(obj.event_type)

    @admin.display(description=_("external reference"))
    def masked_external_ref(self, obj):
        return phones_mask(obj.external_ref)

    @admin.display(description=_("idempotency key"))
    def masked_idempotency_key(self, obj):
        return phones_mask(obj.idempotency_key)

    @admin.display(description=_("raw payload"))
    def pretty_payload(self, obj):
        return format_html("<pre class='cc-json'>{}</pre>", pretty_json(obj.payload) or "{}")

    @admin.display(description=_("normalized"))
    def pretty_normalized(self, obj):
        return format_html("<pre class='cc-json'>{}</pre>", pretty_json(obj.normalized) or "{}")

    @admin.display(description=_("error"))
    def masked_error(self, obj):
        return phones_mask(obj.error) or "-"

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
