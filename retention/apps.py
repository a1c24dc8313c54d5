from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RetentionConfig(AppConfig):
    name = "retention"
    verbose_name = _("Data retention")

    def ready(self):
        from . import checks  # noqa: F401  (registers the policy's system check)
