from drf_spectacular.utils import extend_schema
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from ..authentication import token_not_valid


class _PlainErrors:
    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except InvalidToken:
            raise token_not_valid()


@extend_schema(
    tags=["auth"],
    summary="Obtain a JWT pair",
    description="Console users exchange their username and password for an access token (send it as "
    "`Authorization: Bearer <access>`) and a refresh token. Wrong credentials: 401.",
)
class TokenObtainView(_PlainErrors, TokenObtainPairView):
    throttle_scope = "auth"


@extend_schema(
    tags=["auth"],
    summary="Refresh the access token",
    description="A valid refresh token gives a new access token. An expired or invalid one: 401.",
)
class TokenRefreshAccessView(_PlainErrors, TokenRefreshView):
    throttle_scope = "auth"
