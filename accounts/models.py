from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from contactcenter.common.roles import Role


class ApiKey(AbstractAPIKey):
    """A machine client's API key (`Authorization: Api-Key <prefix>.<secret>`).

    Only the prefix and a SHA-512 hash of the key are stored; the key itself is shown once, when it is created.
    The role decides what the client may do, as the user groups of the same names do for people."""

    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    # Who issued it in the admin: their deactivation or removal revokes it (a key must not outlive its issuer's
    # access). Empty for keys issued from the command line.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="issued_api_keys",
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="apikey_role_valid"),
        ]


class AccountSecurity(models.Model):
    """Per console user: the generation of their JWTs. Every token carries the generation it was issued in; bumping
    it (a password change, a deactivation, a second-factor device removed, a stolen refresh token detected) ends every
    token issued before, access and refresh alike (accounts.services.account_tokens_revoke)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="security", primary_key=True
    )
    token_generation = models.PositiveIntegerField(_("token generation"), default=0)
    tokens_revoked_at = models.DateTimeField(_("tokens last revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("account security")
        verbose_name_plural = _("account security")

    def __str__(self) -> str:
        return f"{self.user_id} generation {self.token_generation}"
