import uuid

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from backoffice.filters import CreatedFilter
from backoffice.paginator import CappedCountPaginator
from contactcenter.common.actors import Actor
from contactcenter.common.context import request_client_ip
from contactcenter.common.masking import phones_mask
from contactcenter.common.pii import phone_mask
from otp.models import OtpChallenge, OtpStatus
from otp.services import otp_cancel

from .base import ReadOnlyAdmin


@admin.register(OtpChallenge)
class OtpChallengeAdmin(ReadOnlyAdmin):
    """Challenges as supervisors see them: masked phone, no code hash, no context hash."""

    list_display = (
        "id",
        "masked_phone",
        "purpose",
        "status",
        "attempts",
        "delivery",
        "expires_at",
        "created_at",
        "client_id",
    )
    # Static choices and an indexed date range: no SELECT DISTINCT or date_hierarchy scans over a big table.
    agent_scope = "interaction__assigned_agent"
    list_filter = ("status", CreatedFilter)
    paginator = CappedCountPaginator
    sortable_by = ()
    search_fields = ("=id", "=conversation_id", "=phone_hash")
    list_select_related = ("message",)
    fields = (
        "id",
        "masked_phone",
        "purpose",
        "status",
        "attempts",
        "max_attempts",
        "expires_at",
        "approved_at",
        "closed_at",
        "language",
        "context_bound",
        "delivery",
        "message",
        "interaction",
        "masked_conversation_id",
        "requested_by",
        "client_id",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ["cancel_selected"]

    def get_search_results(self, request, queryset, search_term):
        # Search by a full phone number goes through its keyed hash (works after redaction too).
        from contactcenter.common.pii import InvalidPhoneNumber, phone_lookup_hashes, phone_normalize

        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(phone_hash__in=phone_lookup_hashes(phone_normalize(term))), False
        except InvalidPhoneNumber:
            pass
        try:
            return queryset.filter(id=uuid.UUID(term)), False
        except ValueError:
            return queryset.filter(conversation_id=term), False

    @admin.display(description=_("phone"))
    def masked_phone(self, obj):
        return phone_mask(obj.phone)

    @admin.display(description=_("SMS delivery"))
    def delivery(self, obj):
        return obj.delivery_status

    @admin.display(description=_("conversation id"))
    def masked_conversation_id(self, obj):
        return phones_mask(obj.conversation_id)  # set by clients: it could be anything, a number included

    @admin.display(description=_("bound to a transaction"), boolean=True)
    def context_bound(self, obj):
        return bool(obj.context_hash)

    @admin.action(description=_("Cancel the selected pending challenges"), permissions=["cancel"])
    def cancel_selected(self, request, queryset):
        actor = Actor.user(request.user)
        canceled = sum(
            otp_cancel(challenge_id=pk, actor=actor, reason="admin", ip_address=request_client_ip(request))
            for pk in queryset.filter(status=OtpStatus.PENDING).values_list("pk", flat=True)
        )
        self.message_user(
            request,
            ngettext("%d challenge canceled.", "%d challenges canceled.", canceled) % canceled,
            messages.SUCCESS,
        )

    def has_cancel_permission(self, request):
        return request.user.has_perm("otp.change_otpchallenge")
