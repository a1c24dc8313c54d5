"""The ledger's side of authenticating a delivery: counting and logging each decision.

The decision itself (tokens, signatures, the log-only mode, the development fallback) is `interactions.providers.auth`'s
and each provider's `authenticate`; the result names the counter it belongs in. `webhook_auth_decide` decides and
records in one call, for endpoints outside the registry (the voice agent's tools)."""

import logging

from contactcenter.common.context import request_client_ip
from interactions.providers.auth import auth_decide
from interactions.providers.base import AuthResult

from .counters import webhook_counter_increment

security_logger = logging.getLogger("webhooks.security")


def webhook_auth_record(*, provider: str, request, result: AuthResult) -> AuthResult:
    """Count and log an authentication decision (a rejection, a signature failure let through in log-only mode, a
    delivery accepted because nothing is configured in development). Returns `result`."""
    if result.counter:
        webhook_counter_increment(provider=provider, name=result.counter)
    if not result.ok:
        security_logger.warning(
            "webhook_rejected",
            extra={
                "provider": provider,
                "reason": result.reason,
                "remote_addr": request_client_ip(request) or "",
                "path": request.path,
            },
        )
    elif result.method == "signature_log_only":
        security_logger.warning(
            "webhook_signature_failed_log_only",
            extra={"provider": provider, "reason": result.reason, "remote_addr": request_client_ip(request) or ""},
        )
    elif result.method == "unconfigured":
        security_logger.warning("webhook_auth_not_configured", extra={"provider": provider})
    return result


def webhook_auth_decide(*, provider: str, request, **decision) -> AuthResult:
    """`auth_decide`, counted and logged for `provider`."""
    return webhook_auth_record(provider=provider, request=request, result=auth_decide(request=request, **decision))
