"""The four roles, and the one rule of what each may see: for the API, the back office and the services alike.

Each role is a Django group (created by the accounts app's migration, permissions in `accounts/groups.py`) and the
role of an API key:
- `supervisor`: every interaction, every action, the dashboard, PII (`interactions.view_pii`);
- `agent`: only the interactions assigned to them;
- `auditor`: reads everything, the audit log included, and changes nothing;
- `integration`: requests and verifies OTPs, reads interactions (machine clients).

A superuser counts as a supervisor. Someone holding several roles gets the widest that is not narrowed: an agent who
is also a supervisor or an auditor sees everything; an auditor never changes anything in the back office."""

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from .auth import user_group_names


class Role(models.TextChoices):
    SUPERVISOR = "supervisor", _("Supervisor")
    AGENT = "agent", _("Agent")
    AUDITOR = "auditor", _("Auditor")
    INTEGRATION = "integration", _("Integration")


ROLES = frozenset(Role.values)
# Agents are people working their own interactions; a machine client never holds that role.
API_KEY_ROLES = frozenset(ROLES - {Role.AGENT.value})

# The role sets of the API, named once so every endpoint reads the same.
READERS = (Role.SUPERVISOR, Role.AGENT, Role.AUDITOR, Role.INTEGRATION)
CONSOLE_WRITERS = (Role.SUPERVISOR, Role.AGENT)
AUDIT_READERS = (Role.SUPERVISOR, Role.AUDITOR)
METRICS_READERS = (Role.SUPERVISOR, Role.AUDITOR)
OTP_CALLERS = (Role.SUPERVISOR, Role.AGENT, Role.INTEGRATION)


def user_roles(user: Any) -> frozenset[str]:
    """The roles of a principal: an API client's key role, a superuser's `supervisor`, else its role groups. A principal
    is what `request.user` holds: a user, an API client (`accounts.authentication.ApiClient`), AnonymousUser, None."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    if getattr(user, "api_key", None) is not None:
        return frozenset({user.role}) & API_KEY_ROLES
    if user.is_superuser:
        return frozenset({Role.SUPERVISOR.value})
    return user_group_names(user) & ROLES


def roles_see_only_assigned(roles: frozenset[str]) -> bool:
    """An agent, and neither a supervisor nor an auditor: sees and changes only the interactions assigned to them."""
    return Role.AGENT in roles and not roles & {Role.SUPERVISOR, Role.AUDITOR}


def is_supervisor(user: Any) -> bool:
    return Role.SUPERVISOR in user_roles(user)


def is_auditor(user: Any) -> bool:
    """Read-only in the back office: an auditor who is not a superuser may change nothing there."""
    return Role.AUDITOR in user_roles(user)


def sees_only_assigned(user: Any) -> bool:
    return roles_see_only_assigned(user_roles(user))
