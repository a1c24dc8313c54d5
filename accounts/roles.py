"""The four roles of the API. Each is a Django group and the role of an API key.

The groups and their permissions are in `accounts/groups.py` (created by migration 0002, kept in step after migrate): supervisors run the back
office and may see PII (`interactions.view_pii`); agents work the interactions assigned to them; auditors read
everything and the audit log; integrations request and verify OTPs and read interactions."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    SUPERVISOR = "supervisor", _("Supervisor")
    AGENT = "agent", _("Agent")
    AUDITOR = "auditor", _("Auditor")
    INTEGRATION = "integration", _("Integration")


ROLES = frozenset(Role.values)
# Agents are people working their own interactions; a machine client never holds that role.
API_KEY_ROLES = frozenset(ROLES - {Role.AGENT.value})
