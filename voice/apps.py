from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VoiceConfig(AppConfig):
    """The voice agent's server tools (send and verify an SMS code mid-call) and the call initiation webhook."""

    name = "voice"
    verbose_name = _("Voice agent")
