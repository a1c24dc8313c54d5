"""Who may do what: the one place where roles are checked.

A caller's roles are the role of its API key, or the role groups of its user (a superuser counts as supervisor).
Views declare `permission_classes = [HasRole(Role.SUPERVISOR, Role.AGENT)]`; an anonymous caller gets 401, an
authenticated one without any of the roles 403. What an agent may see is narrowed by `caller_is_agent_only`.
"""

from django.conf import settings
from rest_framework.permissions import BasePermission

from audit.services import Actor
from contactcenter.common.context import request_client_ip

from .authentication import ApiClient
from .roles import API_KEY_ROLES, ROLES, Role

_ROLES_ATTR = "_contactcenter_roles"


def caller_roles(request) -> frozenset[str]:
    """The roles of the authenticated caller (empty for anonymous callers). Computed once per request."""
    cached = getattr(request, _ROLES_ATTR, None)
    if cached is not None:
        return cached
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        roles: frozenset[str] = frozenset()
    elif isinstance(user, ApiClient):
        roles = frozenset({user.role}) & API_KEY_ROLES
    elif user.is_superuser:
        roles = frozenset({Role.SUPERVISOR.value})
    else:
        roles = frozenset(name for name in user.groups.values_list("name", flat=True) if name in ROLES)
    setattr(request, _ROLES_ATTR, roles)
    return roles


def caller_has_role(request, *roles: str) -> bool:
    return bool(caller_roles(request) & set(roles))


def caller_is_agent_only(request) -> bool:
    """An agent and nothing more: sees and changes only the interactions assigned to them."""
    return caller_roles(request) == {Role.AGENT.value}


def caller_may_see_pii(request) -> bool:
    """Whether this caller gets customers' phone numbers in clear: masking is off, or it holds `interactions.view_pii`
    (supervisors do; an API key does when its role's group does)."""
    if not settings.PII_MASKING_ENABLED:
        return True
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    return user.has_perm("interactions.view_pii")


def caller_actor(request) -> Actor:
    """The audit actor of the request: the user, or the API client."""
    user = request.user
    if isinstance(user, ApiClient):
        return Actor.api_client(user.api_key.prefix, user.api_key.name)
    return Actor.user(user)


def caller_ip(request) -> str | None:
    """The caller's address (contactcenter.common.context decides it, from TRUSTED_PROXY_COUNT)."""
    return request_client_ip(request)


class _RolePermission(BasePermission):
    roles: frozenset[str] = frozenset()
    message = "Your role does not allow this action."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and caller_roles(request) & self.roles)


def HasRole(*roles: str) -> type[BasePermission]:
    """A permission class that admits callers holding any of `roles`."""
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    name = "HasRole_" + "_".join(sorted(roles))
    return type(name, (_RolePermission,), {"roles": frozenset(str(r) for r in roles)})


# The role sets of the API, named once so every endpoint reads the same.
READERS = (Role.SUPERVISOR, Role.AGENT, Role.AUDITOR, Role.INTEGRATION)
CONSOLE_WRITERS = (Role.SUPERVISOR, Role.AGENT)
AUDIT_READERS = (Role.SUPERVISOR, Role.AUDITOR)
METRICS_READERS = (Role.SUPERVISOR, Role.AUDITOR)
OTP_CALLERS = (Role.SUPERVISOR, Role.AGENT, Role.INTEGRATION)
