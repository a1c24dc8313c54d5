"""Deciding whether a webhook delivery is authentic, before anything is stored: shared tokens and provider signatures.

Rules (the same for every provider that signs):
- a valid provider signature authenticates the delivery;
- a signature that is present but wrong rejects it (401) in `enforce` mode, even with a valid token; in `log_only`
  mode the failure is logged and counted and the delivery is accepted;
- without a signature, a valid token (`X-Webhook-Token`, or `?token=` where the provider cannot send headers)
  authenticates it;
- with no token and no signing secret configured for the provider, deliveries are refused, except in development
  (DEBUG) where they are accepted with a warning so the local flow works without setup.
Tokens and secrets may each hold several values (comma-separated in the environment) to rotate without downtime;
every comparison is constant-time.

`auth_decide` only decides: the result names the counter it belongs in, and the ledger (`webhooks.auth`) counts and
logs it. Each provider's `authenticate` checks its own signature and calls it."""

import hmac

from django.conf import settings
from django.http import HttpRequest

from .base import AuthResult

TOKEN_HEADER = "X-Webhook-Token"


def token_matches(presented: str, tokens: list[str]) -> bool:
    """Constant-time comparison against every configured token (no early exit on the first match)."""
    if not presented:
        return False
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(presented.encode(), token.encode())
    return matched


def presented_token(request: HttpRequest, *, allow_query: bool) -> str:
    token = request.headers.get(TOKEN_HEADER, "")
    if not token and allow_query:
        token = request.GET.get("token", "")
    return token.strip()


def public_url(request: HttpRequest) -> str:
    """The URL the provider called, as it signed it: PUBLIC_BASE_URL + the path and query when configured, else the
    request's own address (which honours X-Forwarded-Proto/Host only when TRUST_PROXY_HEADERS is on)."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + request.get_full_path()
    return request.build_absolute_uri()


def _rejected(reason: str, counter: str) -> AuthResult:
    return AuthResult(False, "rejected", reason, counter=counter)


def auth_decide(
    *,
    request: HttpRequest,
    token_ok: bool,
    tokens_configured: bool,
    signing_configured: bool,
    signature_present: bool,
    signature_ok: bool,
    signature_reason: str,
    mode: str,
) -> AuthResult:
    if signing_configured and signature_present:
        if signature_ok:
            return AuthResult(True, "signature", signature_valid=True)
        if mode == "log_only":
            return AuthResult(
                True, "signature_log_only", signature_reason, signature_valid=False, counter="signature_failed_log_only"
            )
        return _rejected(f"signature_{signature_reason}", "rejected_signature")
    if token_ok:
        return AuthResult(True, "token")
    if not tokens_configured and not signing_configured:
        if settings.DEBUG:
            return AuthResult(True, "unconfigured")
        return _rejected("not_configured", "rejected_token")
    if signing_configured and not tokens_configured:
        return _rejected("signature_missing", "rejected_signature")
    return _rejected(
        "token_wrong" if presented_token(request, allow_query=True) else "token_missing",
        "rejected_token",
    )
