from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from interactions.signals import message_provider_id_assigned

        from .receivers import deferred_status_callbacks_apply

        message_provider_id_assigned.connect(
            deferred_status_callbacks_apply, dispatch_uid="webhooks.deferred_status_callbacks_apply"
        )
