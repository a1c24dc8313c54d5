from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OtpConfig(AppConfig):
    name = "otp"
    verbose_name = _("One-time passcodes")

    def ready(self):
        from interactions.signals import message_status_changed

        from . import checks  # noqa: F401 (registers the system checks)
        from .receivers import otp_on_message_status_changed

        message_status_changed.connect(otp_on_message_status_changed, dispatch_uid="otp_on_message_status_changed")
