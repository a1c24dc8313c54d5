"""Who may do what in the API: `permission_classes = [HasRole(Role.SUPERVISOR, Role.AGENT)]`; an anonymous caller gets
401, an authenticated one without any of the roles 403. The rule of each role is in `roles.py`."""

from django.conf import settings
from django.http import HttpRequest
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from .roles import ROLES, roles_see_only_assigned, user_roles

_ROLES_ATTR = "_contactcenter_roles"


def caller_roles(request: HttpRequest | Request) -> frozenset[str]:
    """The roles of the authenticated caller (empty for anonymous callers). Computed once per request."""
    cached = getattr(request, _ROLES_ATTR, None)
    if cached is None:
        cached = user_roles(getattr(request, "user", None))
        setattr(request, _ROLES_ATTR, cached)
    return cached


def caller_has_role(request: HttpRequest | Request, *roles: str) -> bool:
    return bool(caller_roles(request) & set(roles))


def caller_is_agent_only(request: HttpRequest | Request) -> bool:
    """Sees and changes only the interactions assigned to them (`roles.roles_see_only_assigned`)."""
    return roles_see_only_assigned(caller_roles(request))


def caller_may_see_pii(request: HttpRequest | Request) -> bool:
    """Whether this caller gets customers' phone numbers in clear: masking is off, or it holds `interactions.view_pii`
    (supervisors do; an API key does when its role's group does)."""
    if not settings.PII_MASKING_ENABLED:
        return True
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    return user.has_perm("interactions.view_pii")


class _RolePermission(BasePermission):
    roles: frozenset[str] = frozenset()
    message = "Your role does not allow this action."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and caller_roles(request) & self.roles)


def HasRole(*roles: str) -> type[BasePermission]:
    """A permission class that admits callers holding any of `roles`."""
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    name = "HasRole_" + "_".join(sorted(roles))
    return type(name, (_RolePermission,), {"roles": frozenset(str(r) for r in roles)})
