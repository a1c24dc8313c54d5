"""API keys (issuing and revoking) and console sign-in (JWTs, the second factor, revocation), each audited."""

import logging
from datetime import UTC, datetime, timedelta
from typing import cast

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_login_failed
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from audit.actions import AuditAction
from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from contactcenter.common.domain import InvalidInput, LimitReached, NotAuthenticated, PermissionDenied
from contactcenter.common.roles import API_KEY_ROLES, Role

from .models import AccountSecurity, ApiKey
from .second_factor import second_factor_needed, second_factor_verify
from .tokens import GENERATION_CLAIM, ConsoleRefreshToken, account_token_generation

logger = logging.getLogger(__name__)


def api_key_role_check(role: str, *, issuer: User | None = None) -> None:
    if role not in API_KEY_ROLES:
        raise InvalidInput(
            f"An API key's role must be one of: {', '.join(sorted(API_KEY_ROLES))}.", code="invalid_role", attr="role"
        )
    if role == Role.SUPERVISOR and issuer is not None and not issuer.is_superuser:
        # A supervisor key sees numbers in clear and needs no second factor: only a superuser hands one out.
        raise PermissionDenied("Only a superuser may issue a supervisor key.", code="role_not_allowed", attr="role")


def api_key_expiry_check(expires_at: datetime | None) -> datetime:
    """Every key expires, at most API_KEY_MAX_DAYS from now (default: that far)."""
    now = timezone.now()
    latest = now + timedelta(days=settings.API_KEY_MAX_DAYS)
    if expires_at is None:
        return latest
    if expires_at <= now:
        raise InvalidInput("The expiry must be in the future.", code="invalid_expiry", attr="expiry_date")
    if expires_at > latest + timedelta(minutes=1):
        raise InvalidInput(
            f"A key may live at most {settings.API_KEY_MAX_DAYS} days (API_KEY_MAX_DAYS).",
            code="invalid_expiry",
            attr="expiry_date",
        )
    return expires_at


def api_key_create(
    *,
    name: str,
    role: str,
    actor: Actor,
    expires_at: datetime | None = None,
    expires_days: int | None = None,
    issuer: User | None = None,
) -> tuple[ApiKey, str]:
    """Issue a new key. Returns the stored row and the key itself, which is never stored and cannot be shown again.
    `issuer` is the console user issuing it (None from the command line): a supervisor key needs a superuser, and the
    key is revoked when its issuer is deactivated or removed. Every key expires (API_KEY_MAX_DAYS at most)."""
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise InvalidInput("Give the key a name of 1 to 50 characters.", code="invalid_name", attr="name")
    api_key_role_check(role, issuer=issuer)
    if expires_days is not None:
        if expires_days < 1:
            raise InvalidInput("Expiry must be at least one day.", code="invalid_expiry", attr="expires_days")
        expires_at = timezone.now() + timedelta(days=expires_days)
    expires_at = api_key_expiry_check(expires_at)
    with transaction.atomic():
        api_key, key = ApiKey.objects.create_key(name=name, role=role, expiry_date=expires_at, created_by=issuer)
        audit_log_record(
            actor=actor,
            action=AuditAction.API_KEY_CREATED,
            target_type="api_key",
            target_id=api_key.prefix,
            data={"name": name, "role": role, "expires_at": expires_at.isoformat() if expires_at else None},
        )
    return cast(ApiKey, api_key), key  # the manager of ApiKey makes ApiKey rows


def api_key_assign(*, api_key: ApiKey, actor: Actor, issuer: User | None = None) -> str:
    """Give an unsaved key row (built by the admin form) its key, save it and audit it. Returns the key. The rules
    of api_key_create apply (issuer, expiry)."""
    api_key_role_check(api_key.role, issuer=issuer)
    api_key.expiry_date = api_key_expiry_check(api_key.expiry_date)
    api_key.created_by = issuer
    with transaction.atomic():
        key = ApiKey.objects.assign_key(api_key)
        api_key.save()
        audit_log_record(
            actor=actor,
            action=AuditAction.API_KEY_CREATED,
            target_type="api_key",
            target_id=api_key.prefix,
            data={"name": api_key.name, "role": api_key.role},
        )
    return key


def api_key_revoke(*, api_key_id: str, actor: Actor) -> bool:
    """Revoke a key for good. Returns False when it was revoked already."""
    with transaction.atomic():
        api_key = ApiKey.objects.select_for_update().get(pk=api_key_id)
        if api_key.revoked:
            return False
        ApiKey.objects.filter(pk=api_key.pk).update(revoked=True)
        audit_log_record(
            actor=actor,
            action=AuditAction.API_KEY_REVOKED,
            target_type="api_key",
            target_id=api_key.prefix,
            data={"name": api_key.name, "role": api_key.role},
        )
    return True


# --- console sign-in: JWTs, the second factor, revocation ------------------------------------------------------------

INVALID_CREDENTIALS_DETAIL = "Wrong username, password or second-factor code."


class SignInRefused(NotAuthenticated):
    """Wrong username or password, an inactive account, or a missing or wrong second-factor code: one answer for all,
    so the answer never tells a right password apart."""

    def __init__(self):
        super().__init__(INVALID_CREDENTIALS_DETAIL, code="invalid_credentials")


class TokenRefused(NotAuthenticated):
    def __init__(self):
        super().__init__("The token is invalid or expired.", code="authentication_failed")


class SignInLockedOut(LimitReached):
    """Too many failed sign-ins for this account or from this address (django-axes), until the cool-off ends."""

    def __init__(self):
        super().__init__(
            "Too many failed sign-in attempts; try again later.",
            code="locked_out",
            retry_after=max(int(settings.AXES_COOLOFF_TIME.total_seconds()), 1),
        )


def auth_tokens_obtain(*, request: HttpRequest, username: str, password: str, otp_token: str = "") -> dict:
    """Sign a console user in: `{"access", "refresh"}`. `request` is the Django HttpRequest (the lockout reads and
    marks it). A user who must give the second factor (accounts.second_factor) gets tokens only with a valid code;
    every refusal is SignInRefused and counts as a failed sign-in for the lockout; a locked-out account or address is
    SignInLockedOut before its password is even checked."""
    user = authenticate(request=request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        raise SignInLockedOut()
    if user is None or not user.is_active:
        raise SignInRefused()
    second_factor = second_factor_needed(user)
    if second_factor and not second_factor_verify(user=user, token=otp_token):
        # The password was right: counted as a failure all the same, and answered as one.
        user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
        raise SignInRefused()
    user = get_user_model().objects.select_related("security").get(pk=user.pk)
    refresh = ConsoleRefreshToken.for_user(user)
    audit_log_record(
        actor=Actor.user(user),
        action=AuditAction.AUTH_SIGNED_IN,
        target_type="user",
        target_id=user.pk,
        data={"method": "api_token", "second_factor": second_factor},
    )
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _refresh_payload(raw: str) -> dict:
    """The claims of a refresh token whose signature and expiry hold (its blacklisting is checked by the caller)."""
    try:
        payload = token_backend.decode(str(raw or ""), verify=True)  # type: ignore[arg-type]  # it decodes text
    except TokenBackendError:
        raise TokenRefused() from None
    if payload.get(api_settings.TOKEN_TYPE_CLAIM) != "refresh" or not payload.get(api_settings.JTI_CLAIM):
        raise TokenRefused()
    return payload


def _outstanding(payload: dict, user: User | None) -> OutstandingToken:
    token, _created = OutstandingToken.objects.get_or_create(
        jti=payload[api_settings.JTI_CLAIM],
        defaults={
            "user": user,
            "token": "",
            "created_at": timezone.now(),
            "expires_at": datetime.fromtimestamp(int(payload["exp"]), tz=UTC),
        },
    )
    return token


def auth_tokens_refresh(*, refresh: str) -> dict:
    """Exchange a refresh token for a new pair. The token works once: it is blacklisted by the exchange (one
    INSERT under a unique constraint, so two concurrent exchanges give one pair). A token used a second time is what
    a thief holding a copy does: every token of the account is revoked."""
    payload = _refresh_payload(refresh)
    user = (
        get_user_model()
        .objects.select_related("security")
        .filter(**{api_settings.USER_ID_FIELD: payload.get(api_settings.USER_ID_CLAIM)})
        .first()
    )
    if user is None or not user.is_active:
        raise TokenRefused()
    if payload.get(GENERATION_CLAIM, 0) != account_token_generation(user):
        raise TokenRefused()
    with transaction.atomic():
        _blacklisted, created = BlacklistedToken.objects.get_or_create(token=_outstanding(payload, user))
    if not created:
        account_tokens_revoke(user_id=user.pk, reason="refresh_reused")
        audit_log_record(
            actor=Actor.user(user), action=AuditAction.AUTH_REFRESH_REUSED, target_type="user", target_id=user.pk
        )
        logger.warning("refresh_token_reused", extra={"user_id": user.pk})
        raise TokenRefused()
    rotated = ConsoleRefreshToken.for_user(user, expires_at=payload["exp"])
    return {"access": str(rotated.access_token), "refresh": str(rotated)}


def auth_logout(*, refresh: str) -> None:
    """Revoke one refresh token (signing out of one session). Idempotent."""
    payload = _refresh_payload(refresh)
    user = get_user_model().objects.filter(pk=payload.get(api_settings.USER_ID_CLAIM)).first()  # type: ignore[misc]  # no claim: no one
    with transaction.atomic():
        _blacklisted, created = BlacklistedToken.objects.get_or_create(token=_outstanding(payload, user))
        if created and user is not None:
            audit_log_record(
                actor=Actor.user(user), action=AuditAction.AUTH_SIGNED_OUT, target_type="user", target_id=user.pk
            )


def account_tokens_revoke(*, user_id: int, reason: str) -> None:
    """End every JWT issued to the user so far, access and refresh alike (their generation is bumped). Audited."""
    now = timezone.now()
    with transaction.atomic():
        bump = {"token_generation": F("token_generation") + 1, "tokens_revoked_at": now}
        if not AccountSecurity.objects.filter(user_id=user_id).update(**bump):
            try:
                with transaction.atomic():
                    AccountSecurity.objects.create(user_id=user_id, token_generation=1, tokens_revoked_at=now)
            except IntegrityError:  # created meanwhile by a concurrent revocation
                AccountSecurity.objects.filter(user_id=user_id).update(**bump)
        audit_log_record(
            actor=Actor.system("accounts"),
            action=AuditAction.AUTH_TOKENS_REVOKED,
            target_type="user",
            target_id=user_id,
            data={"reason": reason},
        )
    logger.info("tokens_revoked", extra={"user_id": user_id, "reason": reason})


def api_keys_of_issuer_revoke(*, user_id: int, reason: str) -> int:
    """Revoke every key the user issued (their deactivation or removal): a key must not outlive its issuer's access.
    Returns how many were revoked; each is audited."""
    revoked = 0
    for key_id in ApiKey.objects.filter(created_by_id=user_id, revoked=False).values_list("pk", flat=True):
        revoked += api_key_revoke(api_key_id=key_id, actor=Actor.system(f"accounts: issuer {reason}"))
    return revoked


def expired_tokens_flush(*, now: datetime | None = None) -> int:
    """Forget refresh tokens past their expiry (and their blacklist entries): they are refused by their expiry."""
    deleted, _ = OutstandingToken.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted
