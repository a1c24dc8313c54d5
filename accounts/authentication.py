"""How callers authenticate: API keys for machine clients, JWT for console users, sessions for staff (Swagger).

The order in settings matters only for the `WWW-Authenticate` header of a 401: the first class's header is sent."""

import re
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from .models import ApiKey
from .second_factor import second_factor_required
from .tokens import GENERATION_CLAIM, account_token_generation

API_KEY_SCHEME = "Api-Key"
_LAST_USED_RESOLUTION = timedelta(minutes=1)
_KEY_RE = re.compile(r"^[A-Za-z0-9]{1,8}\.[A-Za-z0-9]{1,128}$")


class ApiClient:
    """The principal of a request made with an API key: what `request.user` is for machine clients.

    It is authenticated, never staff, and holds the permissions of the group named like its role."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.role = api_key.role
        # Throttles and logs key on `pk`; it never collides with a user's integer id.
        self.pk = self.id = f"api_key:{api_key.prefix}"
        self._permissions: frozenset[str] | None = None

    def __str__(self) -> str:
        return f"API client {self.api_key.name}"

    def get_username(self) -> str:
        return self.api_key.name

    def get_all_permissions(self) -> frozenset[str]:
        if self._permissions is None:
            rows = Permission.objects.filter(group__name=self.role).values_list("content_type__app_label", "codename")
            self._permissions = frozenset(f"{app}.{codename}" for app, codename in rows)
        return self._permissions

    def has_perm(self, perm: str, obj=None) -> bool:
        return perm in self.get_all_permissions()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>`. A revoked, expired or unknown key is a 401."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _space, key = header.partition(" ")
        if scheme.lower() != API_KEY_SCHEME.lower():
            return None
        key = key.strip()
        if not _KEY_RE.match(key):
            raise exceptions.AuthenticationFailed(_("The API key is not valid."), code="authentication_failed")
        try:
            api_key = ApiKey.objects.get_from_key(key)
        except ApiKey.DoesNotExist:
            api_key = None
        if api_key is None or api_key.has_expired:
            raise exceptions.AuthenticationFailed(_("The API key is not valid."), code="authentication_failed")
        now = timezone.now()
        if api_key.last_used_at is None or api_key.last_used_at < now - _LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return ApiClient(api_key), api_key

    def authenticate_header(self, request):
        return API_KEY_SCHEME


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """The admin's session, for staff trying the API from Swagger. Non-staff sessions are ignored, and so are
    sessions that did not pass the admin's second factor while ADMIN_2FA_REQUIRED is on."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None or not result[0].is_staff:
            return None
        is_verified = getattr(result[0], "is_verified", None)  # set by django_otp's middleware
        if second_factor_required() and not (is_verified and is_verified()):
            return None
        return result


def token_not_valid() -> exceptions.AuthenticationFailed:
    """simplejwt's InvalidToken carries a dict; ours is one plain error like every other 401."""
    return exceptions.AuthenticationFailed(_("The token is invalid or expired."), code="authentication_failed")


class JwtAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access token>` from POST /api/auth/token. A token of an older generation than its
    account's (a password change, a deactivation, a removed second-factor device since) is refused."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except InvalidToken:
            raise token_not_valid()
        except exceptions.AuthenticationFailed as exc:  # unknown or inactive user: the documented code
            raise exceptions.AuthenticationFailed(exc.detail, code="authentication_failed")

    def get_user(self, validated_token):
        user_id = validated_token.get(jwt_settings.USER_ID_CLAIM)
        user = (
            get_user_model().objects.select_related("security").filter(**{jwt_settings.USER_ID_FIELD: user_id}).first()
            if user_id
            else None
        )
        if user is None or not user.is_active:
            raise token_not_valid()
        if validated_token.get(GENERATION_CLAIM, 0) != account_token_generation(user):
            raise token_not_valid()
        return user
