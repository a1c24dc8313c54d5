"""`POST /api/otp`, `POST /api/otp/verify` and `GET /api/otp/{id}`: thin views over otp.services."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from drf_standardized_errors.openapi_serializers import ValidationErrorResponseSerializer
from rest_framework.response import Response
from rest_framework.views import APIView

from contactcenter.common.actors import Actor, request_actor, request_client_id
from contactcenter.common.context import request_client_ip
from contactcenter.common.domain import Conflict, InvalidInput, NotFound
from contactcenter.common.openapi import ClientErrorResponseSerializer
from contactcenter.common.permissions import HasRole
from contactcenter.common.roles import OTP_CALLERS

from ..models import OtpStatus
from ..selectors import challenge_public_dict, otp_challenge_get
from ..services import OtpVerifyOutcome, OtpVerifyResult, otp_cancel, otp_request, otp_verify
from .serializers import (
    OtpChallengeOutputSerializer,
    OtpCreateInputSerializer,
    OtpVerifyApprovedSerializer,
    OtpVerifyClosedSerializer,
    OtpVerifyInputSerializer,
    OtpVerifyWrongCodeSerializer,
)

IDEMPOTENCY_KEY_MAX_LENGTH = 255
RETRY_AFTER = OpenApiParameter(
    "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, description="Seconds to wait.", response=["429"]
)


def _one_of(name: str, *serializers) -> PolymorphicProxySerializer:
    return PolymorphicProxySerializer(component_name=name, serializers=list(serializers), resource_type_field_name=None)


_BAD_INPUT = _one_of("OtpBadInputResponse", ValidationErrorResponseSerializer, ClientErrorResponseSerializer)


# The contract's answer for a challenge that can no longer be verified, by its status (409 for any other).
_CLOSED_HTTP_STATUS = {
    OtpStatus.APPROVED: 409,
    OtpStatus.CANCELED: 409,
    OtpStatus.FAILED: 409,
    OtpStatus.EXPIRED: 410,
    OtpStatus.MAX_ATTEMPTS: 429,
}


def otp_verify_answer(result: OtpVerifyResult) -> tuple[int, dict]:
    """The HTTP status and body of a verification's outcome."""
    if result.outcome == OtpVerifyOutcome.APPROVED:
        return 200, {"status": OtpStatus.APPROVED.value, "verified": True}
    if result.outcome == OtpVerifyOutcome.WRONG_CODE:
        return 400, {
            "status": OtpStatus.PENDING.value,
            "verified": False,
            "attempts_remaining": result.attempts_remaining,
        }
    status = 429 if result.outcome == OtpVerifyOutcome.LOCKED else _CLOSED_HTTP_STATUS.get(result.status, 409)
    if status == 409:
        # "approved" alone would read as a success to a careless client: this verification did not succeed.
        return status, {"status": result.status, "verified": False}
    return status, {"status": result.status}


def caller_identity(request) -> tuple[Actor, str]:
    """The audit actor and the identity that owns the caller's challenges: its API key, else its user."""
    return request_actor(request), request_client_id(request)


class _OtpView(APIView):
    permission_classes = [HasRole(*OTP_CALLERS)]
    throttle_scope = "otp"


@extend_schema(tags=["OTP"])
class OtpCreateView(_OtpView):
    @extend_schema(
        operation_id="otp_create",
        summary="Send a one-time passcode by SMS",
        description="Creates a challenge for the phone and purpose, cancels the pending one of the same pair and "
        "queues the SMS. The answer never carries the code and is the same for any valid number. Over "
        "OTP_RATE_LIMIT_MAX challenges per phone and purpose in the window (or the client's own limit, or the "
        "minimum interval): 429 with Retry-After. With an Idempotency-Key, a retry of the same request returns "
        "the first answer and sends nothing; the same key with another body is a 422.",
        request=OtpCreateInputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Any unique string per logical request (up to 255 characters), kept 24 h per client.",
            ),
            RETRY_AFTER,
        ],
        responses={
            201: OtpChallengeOutputSerializer,
            400: OpenApiResponse(_BAD_INPUT, description="Bad phone, purpose, language or context."),
            422: OpenApiResponse(
                ClientErrorResponseSerializer, description="Idempotency-Key reused with another body."
            ),
            429: OpenApiResponse(ClientErrorResponseSerializer, description="Rate limited; see Retry-After."),
        },
        examples=[
            OpenApiExample("Login code", value={"phone": "+5215512345678", "purpose": "login"}, request_only=True),
            OpenApiExample(
                "Created",
                value={
                    "id": "6f1c1a0e-8d1f-4c57-9d57-3d6c1f9a2b10",
                    "status": "pending",
                    "purpose": "login",
                    "expires_at": "2026-11-25T12:05:00Z",
                    "attempts_remaining": 5,
                    "delivery_status": "queued",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request):
        serializer = OtpCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = request.headers.get("Idempotency-Key", "").strip() or None
        if key is not None and len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise InvalidInput(
                f"The Idempotency-Key is longer than {IDEMPOTENCY_KEY_MAX_LENGTH} characters.",
                code="invalid_idempotency_key",
                attr="Idempotency-Key",
            )
        actor, client_id = caller_identity(request)
        result = otp_request(
            phone=data["phone"],
            purpose=data["purpose"],
            language=data.get("language", ""),
            context=data.get("context"),
            conversation_id=data.get("conversation_id", ""),
            actor=actor,
            client_id=client_id,
            idempotency_key=key,
            ip_address=request_client_ip(request),
            phone_typed=True,
        )
        headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
        return Response(result.body, status=201, headers=headers)


@extend_schema(tags=["OTP"])
class OtpVerifyView(_OtpView):
    @extend_schema(
        operation_id="otp_verify",
        summary="Check a one-time passcode",
        description="By challenge id, or by phone and purpose (the latest challenge of the pair); given together they "
        "must name the same challenge. Only the client that created a challenge can verify it: any other gets 404, "
        "as for a challenge that does not exist, and spends nothing. A code works once; a wrong code (or a context "
        "other than the one bound at creation) counts one attempt, and the attempt that uses the last one locks the "
        "challenge (429 max_attempts). A code that is not OTP_CODE_LENGTH digits is a 400 (`invalid_code`) and spends "
        "no attempt. Expired: 410. Already approved, replaced by a newer challenge, canceled or its SMS failed: 409. "
        "Past OTP_CLIENT_VERIFY_RATE_LIMIT_MAX verifications in the window: 429 `client_rate_limited`.",
        request=OtpVerifyInputSerializer,
        responses={
            200: OtpVerifyApprovedSerializer,
            400: OpenApiResponse(
                _one_of(
                    "OtpVerifyBadRequestResponse",
                    OtpVerifyWrongCodeSerializer,
                    ValidationErrorResponseSerializer,
                    ClientErrorResponseSerializer,
                ),
                description="Wrong code (the OTP body), or a malformed request (the error shape).",
            ),
            404: OpenApiResponse(ClientErrorResponseSerializer, description="No such challenge."),
            409: OpenApiResponse(OtpVerifyClosedSerializer, description="Already approved, replaced or failed."),
            410: OpenApiResponse(OtpVerifyClosedSerializer, description="Expired."),
            429: OpenApiResponse(
                _one_of("OtpVerifyTooManyResponse", OtpVerifyClosedSerializer, ClientErrorResponseSerializer),
                description="Attempts used up (`max_attempts`), or the caller is throttled (the error shape).",
            ),
        },
        examples=[
            OpenApiExample(
                "By id", value={"id": "6f1c1a0e-8d1f-4c57-9d57-3d6c1f9a2b10", "code": "123456"}, request_only=True
            ),
            OpenApiExample(
                "By phone and purpose",
                value={"phone": "+5215512345678", "purpose": "login", "code": "123456"},
                request_only=True,
            ),
            OpenApiExample(
                "Approved", value={"status": "approved", "verified": True}, response_only=True, status_codes=["200"]
            ),
            OpenApiExample(
                "Wrong code",
                value={"status": "pending", "verified": False, "attempts_remaining": 4},
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def post(self, request):
        serializer = OtpVerifyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        actor, client_id = caller_identity(request)
        result = otp_verify(
            code=data["code"],
            challenge_id=data.get("id"),
            phone=data.get("phone"),
            purpose=data.get("purpose"),
            context=data.get("context"),
            conversation_id=data.get("conversation_id") or None,
            actor=actor,
            client_id=client_id,
            ip_address=request_client_ip(request),
        )
        status, body = otp_verify_answer(result)
        return Response(body, status=status)


@extend_schema(tags=["OTP"])
class OtpChallengeDetailView(_OtpView):
    throttle_scope = "reads"

    @extend_schema(
        operation_id="otp_retrieve",
        summary="A challenge's status and the delivery state of its SMS",
        responses={
            200: OtpChallengeOutputSerializer,
            404: OpenApiResponse(ClientErrorResponseSerializer, description="No such challenge."),
        },
    )
    def get(self, request, challenge_id):
        _actor, client_id = caller_identity(request)
        challenge = otp_challenge_get(challenge_id=challenge_id, client_id=client_id)
        if challenge is None:
            raise NotFound("No such OTP challenge.", code="not_found")
        return Response(challenge_public_dict(challenge))


@extend_schema(tags=["OTP"])
class OtpCancelView(_OtpView):
    @extend_schema(
        operation_id="otp_cancel",
        summary="Cancel a pending challenge",
        description="The client that created the challenge cancels it (the customer gave up, the app moved on): the "
        "code no longer verifies. Another client's challenge: 404. A challenge no longer pending: 409 with its "
        "status.",
        request=None,
        responses={
            200: OtpChallengeOutputSerializer,
            404: OpenApiResponse(ClientErrorResponseSerializer, description="No such challenge."),
            409: OpenApiResponse(ClientErrorResponseSerializer, description="The challenge is not pending."),
        },
    )
    def post(self, request, challenge_id):
        actor, client_id = caller_identity(request)
        if not otp_cancel(
            challenge_id=challenge_id,
            actor=actor,
            reason="client",
            client_id=client_id,
            ip_address=request_client_ip(request),
        ):
            raise Conflict("The challenge is not pending.", code="not_pending")
        return Response(challenge_public_dict(otp_challenge_get(challenge_id=challenge_id, client_id=client_id)))
