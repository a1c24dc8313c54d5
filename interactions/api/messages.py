"""POST /api/interactions/{id}/messages: reply to the customer on the interaction's channel (WhatsApp or SMS).

Thin: the serializer checks the shape, `message_send` the rules; the message is queued and delivered by a worker, so
the answer is 202 with the queued message (phone masked)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from drf_standardized_errors.openapi_serializers import ValidationErrorResponseSerializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from contactcenter.common.actors import request_actor
from contactcenter.common.fields import StrictCharField
from contactcenter.common.openapi import ClientErrorResponseSerializer, schema_keywords
from contactcenter.common.permissions import HasRole, caller_is_agent_only
from contactcenter.common.roles import CONSOLE_WRITERS, Role
from contactcenter.common.serializers import PII_VISIBLE_CONTEXT_KEY

from ..selectors import interaction_list
from ..services import message_send
from .serializers import MessageSerializer


@schema_keywords(
    anyOf=[
        {"required": ["body"], "properties": {"body": {"pattern": r"\S"}}},
        {"required": ["media_url"], "properties": {"media_url": {"minLength": 1}}},
    ]
)
class MessageCreateInputSerializer(serializers.Serializer):
    body = StrictCharField(
        max_length=1600,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=True,
        help_text="The text (up to 1600 characters). Required unless `media_url` is given.",
    )
    media_url = serializers.URLField(
        max_length=1000,
        required=False,
        allow_blank=True,
        default="",
        help_text="A public URL of an image or document to attach (WhatsApp only).",
    )


_EXAMPLE_ANSWER = {
    "id": "0b7e0c55-3a41-4a5e-9f4b-6a2f1d7c9e10",
    "channel": "whatsapp",
    "direction": "outbound",
    "status": "queued",
    "provider_status": "",
    "to_phone": "+52*******5678",
    "from_phone": "",
    "body": "Su aclaración quedó registrada con el folio ACL-0042.",
    "is_sensitive": False,
    "media_url": "",
    "media_type": "",
    "provider": "builderbot",
    "provider_message_id": None,
    "purpose": "reply",
    "error_code": "",
    "error_message": "",
    "send_attempts": 0,
    "queued_at": "2026-11-25T10:00:00Z",
    "sent_at": None,
    "delivered_at": None,
    "read_at": None,
    "failed_at": None,
    "received_at": None,
    "created_at": "2026-11-25T10:00:00Z",
}


class InteractionMessageCreateView(APIView):
    permission_classes = [HasRole(*CONSOLE_WRITERS, Role.INTEGRATION)]
    throttle_scope = "writes"

    @extend_schema(
        tags=["interactions"],
        summary="Send a message to the customer",
        description="Queues a WhatsApp or SMS message to the interaction's customer, on the interaction's channel, "
        "and answers at once with the queued message (202); a worker delivers it, and its status moves on as the "
        "provider reports (`GET /api/interactions/{id}` shows it). Calls cannot be messaged (400); media is "
        "WhatsApp only. Agents may write only on the interactions assigned to them (404 otherwise).",
        request=MessageCreateInputSerializer,
        responses={
            202: MessageSerializer,
            400: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="MessageBadInputResponse",
                    serializers=[ValidationErrorResponseSerializer, ClientErrorResponseSerializer],
                    resource_type_field_name=None,
                ),
                description="Invalid body (the validation error shape), or a channel that cannot carry it.",
            ),
            404: OpenApiResponse(ClientErrorResponseSerializer, description="No such interaction (for this caller)."),
        },
        examples=[
            OpenApiExample("Text", value={"body": "Su aclaración quedó registrada."}, request_only=True),
            OpenApiExample(
                "WhatsApp with a document",
                value={"body": "Adjuntamos su estado de cuenta.", "media_url": "https://example.com/estado.pdf"},
                request_only=True,
            ),
            OpenApiExample("Queued", value=_EXAMPLE_ANSWER, response_only=True, status_codes=["202"]),
        ],
    )
    def post(self, request, pk):
        agent = request.user if caller_is_agent_only(request) else None
        interaction = get_object_or_404(interaction_list(agent=agent), pk=pk)
        data = MessageCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = message_send(
            channel=interaction.channel,
            body=data.validated_data["body"],
            media_url=data.validated_data["media_url"],
            interaction=interaction,
            purpose="reply",
            actor=request_actor(request),
        )
        # The answer always shows the number masked: the caller did not send it, and a clear read is audited elsewhere.
        context = {"request": request, PII_VISIBLE_CONTEXT_KEY: False}
        return Response(MessageSerializer(message, context=context).data, status=status.HTTP_202_ACCEPTED)
