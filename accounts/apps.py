from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and API access")

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import receivers, schema  # noqa: F401  (schema registers the OpenAPI security schemes)
        from .groups import role_groups_post_migrate

        receivers.connect()
        post_migrate.connect(role_groups_post_migrate, sender=self, dispatch_uid="accounts.role_groups")
