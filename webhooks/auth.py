"""Authenticating a webhook delivery before anything is stored: shared tokens and provider signatures.

Rules (the same for every provider that signs):
- a valid provider signature authenticates the delivery;
- a signature that is present but wrong rejects it (401) in `enforce` mode, even with a valid token; in `log_only`
  mode the failure is logged and counted and the delivery is accepted;
- without a signature, a valid token (`X-Webhook-Token`, or `?token=` where the provider cannot send headers)
  authenticates it;
- with no token and no signing secret configured for the provider, deliveries are refused, except in development
  (DEBUG) where they are accepted with a warning so the local flow works without setup.
Tokens and secrets may each hold several values (comma-separated in the environment) to rotate without downtime;
every comparison is constant-time."""

import hmac
import logging
from dataclasses import dataclass

from django.conf import settings

from contactcenter.common.context import request_client_ip
from interactions.providers.elevenlabs import elevenlabs_signature_check
from interactions.providers.twilio.callbacks import status_callback_signature_valid

from .counters import webhook_counter_increment

security_logger = logging.getLogger("webhooks.security")

TOKEN_HEADER = "X-Webhook-Token"
ELEVENLABS_SIGNATURE_HEADER = "ElevenLabs-Signature"
TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"


@dataclass(frozen=True)
class AuthResult:
    ok: bool
    method: str  # signature | token | signature_log_only | unconfigured (DEBUG) | rejected
    reason: str = ""
    signature_valid: bool | None = None


def token_matches(presented: str, tokens: list[str]) -> bool:
    """Constant-time comparison against every configured token (no early exit on the first match)."""
    if not presented:
        return False
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(presented.encode(), token.encode())
    return matched


def presented_token(request, *, allow_query: bool) -> str:
    token = request.headers.get(TOKEN_HEADER, "")
    if not token and allow_query:
        token = request.GET.get("token", "")
    return token.strip()


def public_url(request) -> str:
    """The URL the provider called, as it signed it: PUBLIC_BASE_URL + the path and query when configured, else the
    request's own address (which honours X-Forwarded-Proto/Host only when TRUST_PROXY_HEADERS is on)."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + request.get_full_path()
    return request.build_absolute_uri()


def client_ip(request) -> str:
    """The caller's address ("" when unknown), as contactcenter.common.context decides it (TRUSTED_PROXY_COUNT)."""
    return request_client_ip(request) or ""


def _reject(provider: str, request, reason: str, counter: str) -> AuthResult:
    webhook_counter_increment(provider=provider, name=counter)
    security_logger.warning(
        "webhook_rejected",
        extra={"provider": provider, "reason": reason, "remote_addr": client_ip(request), "path": request.path},
    )
    return AuthResult(False, "rejected", reason)


def _decide(
    *,
    provider: str,
    request,
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
            webhook_counter_increment(provider=provider, name="signature_failed_log_only")
            security_logger.warning(
                "webhook_signature_failed_log_only",
                extra={"provider": provider, "reason": signature_reason, "remote_addr": client_ip(request)},
            )
            return AuthResult(True, "signature_log_only", signature_reason, signature_valid=False)
        return _reject(provider, request, f"signature_{signature_reason}", "rejected_signature")
    if token_ok:
        return AuthResult(True, "token")
    if not tokens_configured and not signing_configured:
        if settings.DEBUG:
            security_logger.warning("webhook_auth_not_configured", extra={"provider": provider})
            return AuthResult(True, "unconfigured")
        return _reject(provider, request, "not_configured", "rejected_token")
    if signing_configured and not tokens_configured:
        return _reject(provider, request, "signature_missing", "rejected_signature")
    return _reject(
        provider,
        request,
        "token_wrong" if presented_token(request, allow_query=True) else "token_missing",
        "rejected_token",
    )


def authenticate_elevenlabs(request, raw_body: bytes) -> AuthResult:
    secrets = settings.ELEVENLABS_WEBHOOK_SECRETS
    header = request.headers.get(ELEVENLABS_SIGNATURE_HEADER)
    check = (
        elevenlabs_signature_check(raw_body=raw_body, header=header, secrets=secrets) if secrets and header else None
    )
    return _decide(
        provider="elevenlabs",
        request=request,
        token_ok=token_matches(presented_token(request, allow_query=False), settings.ELEVENLABS_WEBHOOK_TOKENS),
        tokens_configured=bool(settings.ELEVENLABS_WEBHOOK_TOKENS),
        signing_configured=bool(secrets),
        signature_present=bool(header),
        signature_ok=bool(check and check.valid),
        signature_reason=check.reason if check else "missing",
        mode=settings.ELEVENLABS_SIGNATURE_MODE,
    )


def authenticate_twilio(request, raw_body: bytes, params) -> AuthResult:
    auth_token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get(TWILIO_SIGNATURE_HEADER, "")
    valid = False
    if auth_token and signature:
        is_json = request.content_type == "application/json"
        valid = status_callback_signature_valid(
            url=public_url(request),
            params=None if is_json else params,
            signature=signature,
            auth_token=auth_token,
            raw_body=raw_body if is_json else None,
        )
    return _decide(
        provider="twilio",
        request=request,
        token_ok=token_matches(presented_token(request, allow_query=True), settings.TWILIO_WEBHOOK_TOKENS),
        tokens_configured=bool(settings.TWILIO_WEBHOOK_TOKENS),
        signing_configured=bool(auth_token),
        signature_present=bool(signature),
        signature_ok=valid,
        signature_reason="mismatch",
        mode=settings.TWILIO_SIGNATURE_MODE,
    )


def authenticate_builderbot(request, raw_body: bytes) -> AuthResult:
    """BuilderBot does not sign its webhooks: our own token, in the header or the URL, is the only proof."""
    return _decide(
        provider="builderbot",
        request=request,
        token_ok=token_matches(presented_token(request, allow_query=True), settings.BUILDERBOT_WEBHOOK_TOKENS),
        tokens_configured=bool(settings.BUILDERBOT_WEBHOOK_TOKENS),
        signing_configured=False,
        signature_present=False,
        signature_ok=False,
        signature_reason="",
        mode="enforce",
    )
