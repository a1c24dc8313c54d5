from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and API access")

    def ready(self):
        from . import schema  # noqa: F401  (registers the OpenAPI security schemes)
