from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from contactcenter.common.openapi import ClientErrorResponseSerializer

from ..authentication import token_not_valid


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Send as `Authorization: Bearer <access>`; short-lived.")
    refresh = serializers.CharField(help_text="Exchange at /api/auth/token/refresh for a new access token.")


class AccessTokenSerializer(serializers.Serializer):
    access = serializers.CharField()


_UNAUTHORIZED = OpenApiResponse(
    ClientErrorResponseSerializer,
    description="Wrong credentials (`no_active_account`) or an invalid or expired token (`authentication_failed`).",
)


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
    responses={200: TokenPairSerializer, 401: _UNAUTHORIZED},
)
class TokenObtainView(_PlainErrors, TokenObtainPairView):
    throttle_scope = "auth"


@extend_schema(
    tags=["auth"],
    summary="Refresh the access token",
    description="A valid refresh token gives a new access token. An expired or invalid one: 401.",
    responses={200: AccessTokenSerializer, 401: _UNAUTHORIZED},
)
class TokenRefreshAccessView(_PlainErrors, TokenRefreshView):
    throttle_scope = "auth"
