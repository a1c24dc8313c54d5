from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from contactcenter.common.admin import ReadOnlyAdmin
from contactcenter.common.pii import phone_mask

from .models import OtpChallenge


@admin.register(OtpChallenge)
class OtpChallengeAdmin(ReadOnlyAdmin):
    list_display = ("id", "masked_phone", "purpose", "status", "attempts", "expires_at", "created_at")
    list_filter = ("status", "purpose")
    exclude = ("phone", "phone_hash", "code_hash", "context_hash")
    readonly_fields = ("masked_phone",)

    @admin.display(description=_("phone"))
    def masked_phone(self, obj):
        return phone_mask(obj.phone)
