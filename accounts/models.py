from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from .roles import Role


class ApiKey(AbstractAPIKey):
    """A machine client's API key (`Authorization: Api-Key <prefix>.<secret>`).

    Only the prefix and a SHA-512 hash of the key are stored; the key itself is shown once, when it is created.
    The role decides what the client may do, as the user groups of the same names do for people."""

    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="apikey_role_valid"),
        ]
