"""The ledger's side of authenticating a delivery: counting and logging each decision.

The decision itself (tokens, signatures, the log-only mode, the development fallback) is `interactions.providers.auth`'s
and each provider's `authenticate`; the result names the counter it belongs in. `_decide` decides and records in one
call, for endpoints outside the registry (the voice agent's tools); the names they use stay importable from here."""

import logging

from contactcenter.common.context import request_client_ip
from interactions.providers.auth import TOKEN_HEADER, auth_decide, presented_token, token_matches
from interactions.providers.base import AuthResult

from .counters import webhook_counter_increment

__all__ = [
    "TOKEN_HEADER",
    "AuthResult",
    "_decide",
    "client_ip",
    "presented_token",
    "token_matches",
    "webhook_auth_record",
]

security_logger = logging.getLogger("webhooks.security")


def client_ip(request) -> str:
    """The caller's address ("" when unknown), as contactcenter.common.context decides it (TRUSTED_PROXY_COUNT)."""
    return request_client_ip(request) or ""


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
                "remote_addr": client_ip(request),
                "path": request.path,
            },
        )
    elif result.method == "signature_log_only":
        security_logger.warning(
            "webhook_signature_failed_log_only",
            extra={"provider": provider, "reason": result.reason, "remote_addr": client_ip(request)},
        )
    elif result.method == "unconfigured":
        security_logger.warning("webhook_auth_not_configured", extra={"provider": provider})
    return result


def _decide(*, provider: str, request, **decision) -> AuthResult:
    """`auth_decide`, counted and logged for `provider`."""
    return webhook_auth_record(provider=provider, request=request, result=auth_decide(request=request, **decision))
