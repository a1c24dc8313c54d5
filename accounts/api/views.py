"""Console sign-in: `POST /api/auth/token`, `/api/auth/token/refresh` and `/api/auth/logout`. Thin views over
accounts.services."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from contactcenter.common.fields import StrictCharField
from contactcenter.common.openapi import ClientErrorResponseSerializer

from ..services import auth_logout, auth_tokens_obtain, auth_tokens_refresh


class TokenObtainInputSerializer(serializers.Serializer):
    # Blank (or only spaces) is a wrong username like any other: the one 401 for every refusal, never a 400 that
    # tells a blank name apart.
    username = StrictCharField(max_length=150, allow_blank=True)
    password = StrictCharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    otp_token = StrictCharField(
        max_length=16,
        required=False,
        allow_blank=True,
        help_text="The 6-digit code of the user's authenticator app. Required of every console user whenever the "
        "second factor is required (always with DEBUG off); a missing or wrong code is answered like a wrong password.",
    )


class RefreshInputSerializer(serializers.Serializer):
    refresh = StrictCharField(
        max_length=4096, allow_blank=True, help_text="A refresh token; blank or unknown is the same 401."
    )


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Send as `Authorization: Bearer <access>`; short-lived.")
    refresh = serializers.CharField(
        help_text="Exchange once at /api/auth/token/refresh for a new pair; revoke it at /api/auth/logout."
    )


_REFUSED = OpenApiResponse(
    ClientErrorResponseSerializer,
    description="`invalid_credentials`: a wrong username or password, an inactive account, or a missing or wrong "
    "second-factor code (one answer for all).",
)
_LOCKED = OpenApiResponse(
    ClientErrorResponseSerializer,
    description="`locked_out`: too many failed sign-ins for this account or from this address (see Retry-After); "
    "or `throttled`.",
)
_BAD_TOKEN = OpenApiResponse(
    ClientErrorResponseSerializer, description="`authentication_failed`: the token is invalid, expired or used."
)


class _PublicAuthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_scope = "auth"


@extend_schema(
    tags=["auth"],
    summary="Sign in: obtain a JWT pair",
    description="Console users exchange their username, password and the code of their authenticator app "
    "(`otp_token`) for an access token (send it as `Authorization: Bearer <access>`) and a "
    "refresh token. Every refusal is the same 401 `invalid_credentials`. After LOGIN_FAILURE_LIMIT failures for an "
    "account or from an address, both are refused for LOGIN_LOCKOUT_MINUTES: 429 `locked_out`.",
    request=TokenObtainInputSerializer,
    responses={200: TokenPairSerializer, 401: _REFUSED, 429: _LOCKED},
    examples=[
        OpenApiExample("Staff", value={"username": "ana", "password": "…", "otp_token": "123456"}, request_only=True),
    ],
)
class TokenObtainView(_PublicAuthView):
    def post(self, request):
        serializer = TokenObtainInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        pair = auth_tokens_obtain(
            request=request._request,
            username=data["username"],
            password=data["password"],
            otp_token=data.get("otp_token", ""),
        )
        return Response(pair)


@extend_schema(
    tags=["auth"],
    summary="Refresh: exchange a refresh token for a new pair",
    description="A refresh token works once: the answer carries a new refresh token (same expiry: a session lasts "
    "at most JWT_REFRESH_TOKEN_HOURS from sign-in) and a new access token. A used, revoked, expired or invalid "
    "token: 401. Presenting a used refresh token again revokes every token of the account.",
    request=RefreshInputSerializer,
    responses={200: TokenPairSerializer, 401: _BAD_TOKEN},
)
class TokenRefreshView(_PublicAuthView):
    def post(self, request):
        serializer = RefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(auth_tokens_refresh(refresh=serializer.validated_data["refresh"]))


@extend_schema(
    tags=["auth"],
    summary="Sign out: revoke a refresh token",
    description="The refresh token can no longer be used (its access tokens expire on their own, within "
    "JWT_ACCESS_TOKEN_MINUTES). Idempotent.",
    request=RefreshInputSerializer,
    responses={204: None, 401: _BAD_TOKEN},
)
class LogoutView(_PublicAuthView):
    def post(self, request):
        serializer = RefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        auth_logout(refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)
