from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    """The supervisors' back office: dashboard, admin login with a second factor, demo data."""

    default = True
    name = "backoffice"
    verbose_name = _("Back office")


class BackofficeAdminConfig(admin_apps.AdminConfig):
    """`django.contrib.admin` with our site as `admin.site`, so every `@admin.register` lands on it."""

    default = False
    default_site = "backoffice.site.BackofficeAdminSite"
