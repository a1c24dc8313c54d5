"""The admin site of the back office: a second factor at login, the dashboard, and our own titles."""

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.plugins.otp_totp.models import TOTPDevice


def second_factor_required() -> bool:
    """TOTP at admin login: always with DEBUG off; with DEBUG on (local development) ADMIN_2FA_REQUIRED decides."""
    return bool(settings.ADMIN_2FA_REQUIRED or not settings.DEBUG)


class TotpAdminAuthenticationForm(OTPAdminAuthenticationForm):
    """Password and the code of the user's authenticator app: one TOTP device per staff user, so no device to pick."""

    def _chosen_device(self, user):
        return super()._chosen_device(user) or (
            TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()
        )


class BackofficeAdminSite(admin.AdminSite):
    site_header = _("Contact Center back office")
    site_title = _("Contact Center back office")
    index_title = _("Supervision")
    index_template = "admin/backoffice_index.html"

    @property
    def login_form(self):
        return TotpAdminAuthenticationForm if second_factor_required() else AdminAuthenticationForm

    @property
    def login_template(self):
        return "admin/backoffice_login.html"

    def has_permission(self, request):
        """Staff, and with the second factor on, verified by a TOTP device in this session."""
        if not super().has_permission(request):
            return False
        if not second_factor_required():
            return True
        is_verified = getattr(request.user, "is_verified", None)
        return bool(is_verified and is_verified())

    def each_context(self, request):
        context = super().each_context(request)
        context["second_factor_required"] = second_factor_required()
        return context

    def get_urls(self):
        from .views import dashboard_view

        return [
            path("dashboard/", self.admin_view(dashboard_view), name="backoffice_dashboard"),
            *super().get_urls(),
        ]
