"""Admin pages of the libraries' models that the back office overrides (loaded after those libraries' own admins:
`backoffice` comes after them in INSTALLED_APPS)."""

from django.contrib import admin
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

# The blacklist of refresh tokens is the product's record of signed-out and rotated sessions: nobody edits it by hand
# (deleting an entry would revive a revoked token, out of the audit trail's sight).
for _model in (BlacklistedToken, OutstandingToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)

if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class SecondFactorDeviceAdmin(admin.ModelAdmin):
    """Staff's authenticator devices: listed, and deleted when a phone is lost (which ends the user's tokens), never
    shown with their secret key nor edited here (`manage.py admin_totp_device USER [--replace]` issues one)."""

    list_display = ("user", "name", "confirmed", "last_used_at")
    list_filter = ("confirmed",)
    search_fields = ("user__username",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
