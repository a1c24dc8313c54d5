"""The admin site of the back office: a second factor at login, the dashboard, and our own titles."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.second_factor import second_factor_required


class TotpAdminAuthenticationForm(OTPAdminAuthenticationForm):
    """Password and the code of the user's authenticator app: one TOTP device per staff user, so no device to pick.

    Every refusal (a wrong password, a right password with a missing or wrong code, no device, verification
    throttled) is the same message, and one that comes after the password was accepted still counts as a failed
    sign-in for the lockout (django-axes listens to `user_login_failed`)."""

    error_messages = {
        **OTPAdminAuthenticationForm.error_messages,
        "invalid_login": _(
            "Please enter the correct username, password and authenticator code for a staff account. "
            "Note that the fields may be case-sensitive."
        ),
    }

    def _chosen_device(self, user):
        return super()._chosen_device(user) or (
            TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()
        )

    def _update_form(self, user):
        """django-otp would list the user's devices after a right password: that would tell the password was right."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            if self.user_cache is not None:  # the password was right: the failure is the second factor's
                user_login_failed.send(
                    sender=type(self),
                    credentials={"username": self.cleaned_data.get("username")},
                    request=self.request,
                )
                self.user_cache = None
            raise self.get_invalid_login_error() from None


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
