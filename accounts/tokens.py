"""Console users' JWTs (simplejwt), with the account's token generation.

Each token carries `gen`, the generation of its account (accounts.models.AccountSecurity) when it was issued; a token
of an older generation is refused, access and refresh alike. Refresh tokens are recorded as outstanding (simplejwt's
blacklist app) by their id only: the token itself is never stored."""

from datetime import UTC, datetime

from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

GENERATION_CLAIM = "gen"


def account_token_generation(user) -> int:
    """The account's current token generation (0 until something revoked its tokens). Reads `user.security`, which
    callers fetch with `select_related("security")`."""
    try:
        return user.security.token_generation
    except AttributeError:  # no row yet (RelatedObjectDoesNotExist is an AttributeError too)
        return 0


class ConsoleRefreshToken(RefreshToken):
    @classmethod
    def for_user(cls, user, *, expires_at: int | None = None) -> "ConsoleRefreshToken":  # type: ignore[override]
        """A new refresh token for `user`, recorded as outstanding. `expires_at` (a unix time) keeps the expiry of the
        token it replaces: rotating never extends a session beyond JWT_REFRESH_TOKEN_HOURS from sign-in."""
        token = cls()
        token[api_settings.USER_ID_CLAIM] = str(getattr(user, api_settings.USER_ID_FIELD))
        token[GENERATION_CLAIM] = account_token_generation(user)
        if expires_at is not None:
            token["exp"] = min(int(expires_at), int(token["exp"]))
        OutstandingToken.objects.create(
            user=user,
            jti=token[api_settings.JTI_CLAIM],
            token="",
            created_at=token.current_time,
            expires_at=datetime.fromtimestamp(int(token["exp"]), tz=UTC),
        )
        return token
