"""The answer to a sign-in refused by the lockout (django-axes calls `lockout_response`, AXES_LOCKOUT_CALLABLE), and
the audit record of a lockout."""

import logging

from django.conf import settings
from django.core.cache import cache
from django.template.response import TemplateResponse

from audit.actions import AuditAction
from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from contactcenter.common.errors import error_response, http_headers_for, http_status_for

logger = logging.getLogger(__name__)


def lockout_response(request, original_response=None, credentials=None):
    from .services import SignInLockedOut

    error = SignInLockedOut()
    status, headers = http_status_for(error), http_headers_for(error)
    if request.path.startswith(("/api/", "/webhooks/")):
        return error_response(status, error.code, error.detail, headers=headers)
    response = TemplateResponse(
        request,
        "admin/backoffice_locked_out.html",
        {"minutes": settings.LOGIN_LOCKOUT_MINUTES, "site_header": "", "title": ""},
        status=status,
    )
    response["Retry-After"] = headers["Retry-After"]
    return response.render()


def lockout_audit(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    """Receiver of axes' `user_locked_out`: one audit record per account and address per lockout (axes sends the
    signal again for every attempt refused during it)."""
    key = f"auth:lockout-audited:{username or ''}:{ip_address or ''}"
    try:
        first = cache.add(key, 1, timeout=int(settings.AXES_COOLOFF_TIME.total_seconds()))
    except Exception:  # the cache down: audit every time rather than never
        first = True
    if not first:
        return
    path = getattr(request, "path", "") if request is not None else ""
    audit_log_record(
        actor=Actor.system("login lockout"),
        action=AuditAction.AUTH_LOCKED_OUT,
        target_type="user",
        target_id="",
        data={"username": str(username or "")[:150], "path": path, "minutes": settings.LOGIN_LOCKOUT_MINUTES},
        ip_address=ip_address,
    )
    logger.warning("sign_in_locked_out", extra={"path": path, "remote_addr": ip_address})
