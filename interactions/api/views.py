"""GET /api/interactions, GET and PATCH /api/interactions/{id}. Thin: selectors read, services change."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from contactcenter.common.actors import request_actor
from contactcenter.common.context import request_client_ip
from contactcenter.common.domain import InvalidInput
from contactcenter.common.openapi import ClientErrorResponseSerializer
from contactcenter.common.pagination import NewestFirstCursorPagination
from contactcenter.common.permissions import HasRole, caller_is_agent_only, caller_may_see_pii
from contactcenter.common.roles import CONSOLE_WRITERS, READERS
from contactcenter.common.serializers import PII_VISIBLE_CONTEXT_KEY

from ..selectors import interaction_detail_queryset, interaction_event_summary, interaction_list
from ..services import UNCHANGED, interaction_pii_reveal, interaction_update, interactions_pii_list_reveal
from .filters import InteractionFilter, KeysetOrdering
from .serializers import InteractionDetailSerializer, InteractionListSerializer, InteractionPatchSerializer

_LIST_EXAMPLE = {
    "next": "https://api.example.com/api/interactions?cursor=cD0yMDI2LTExLTI1",
    "previous": None,
    "results": [
        {
            "id": "3f1c6a52-8f0e-4b1e-9a55-1f6f3c2d9b10",
            "channel": "sms",
            "direction": "outbound",
            "status": "completed",
            "customer_phone": "+52*******5678",
            "provider": "twilio",
            "external_id": None,
            "assigned_agent": {"id": 7, "username": "maria"},
            "subject": "",
            "started_at": "2026-11-25T10:00:00Z",
            "ended_at": "2026-11-25T10:05:00Z",
            "last_activity_at": "2026-11-25T10:05:00Z",
            "verified_at": None,
            "redacted": False,
            "created_at": "2026-11-25T10:00:00Z",
            "updated_at": "2026-11-25T10:05:00Z",
        }
    ],
}


class _PiiContextMixin:
    """Decides once per request whether phones are shown in clear (see contactcenter.common.permissions.caller_may_see_pii)."""

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context[PII_VISIBLE_CONTEXT_KEY] = caller_may_see_pii(self.request)
        return context

    def unmasked_by_permission(self, context) -> bool:
        """True when this answer carries phones in clear because of the caller's permission (what gets audited)."""
        return settings.PII_MASKING_ENABLED and context[PII_VISIBLE_CONTEXT_KEY]

    def agent_scope(self):
        return self.request.user if caller_is_agent_only(self.request) else None


@extend_schema_view(
    get=extend_schema(
        tags=["interactions"],
        summary="List interactions",
        description="Newest first, keyset-paginated (`next`/`previous` cursor links; `page_size` up to 200). Agents "
        "see only the interactions assigned to them. Phones are masked unless masking is off or the caller may see "
        "PII; `phone=` filters by the full number even then. A page shown unmasked is recorded in the audit log.",
        examples=[OpenApiExample("A page", value=_LIST_EXAMPLE, response_only=True)],
    )
)
@extend_validation_errors(["invalid"], field_name="phone", methods=["get"])
class InteractionListView(_PiiContextMixin, generics.ListAPIView):
    permission_classes = [HasRole(*READERS)]
    throttle_scope = "reads"
    serializer_class = InteractionListSerializer
    filter_backends = [DjangoFilterBackend, KeysetOrdering]
    filterset_class = InteractionFilter
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        return interaction_list(agent=self.agent_scope())

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        context = self.get_serializer_context()
        data = self.get_serializer_class()(page, many=True, context=context).data
        if page and self.unmasked_by_permission(context):
            interactions_pii_list_reveal(
                interaction_ids=[interaction.pk for interaction in page],
                actor=request_actor(request),
                reason="api.interaction_list",
                ip_address=request_client_ip(request),
            )
        return self.get_paginated_response(data)


_TRANSITION_ERROR = OpenApiResponse(
    ClientErrorResponseSerializer,
    description="The interaction is in a final status (completed, failed, abandoned) and cannot change.",
    examples=[
        OpenApiExample(
            "Final status",
            value={
                "type": "client_error",
                "errors": [
                    {
                        "code": "invalid_transition",
                        "detail": "A completed interaction cannot change status.",
                        "attr": "status",
                    }
                ],
            },
        )
    ],
)


@extend_schema_view(
    get=extend_schema(
        tags=["interactions"],
        summary="Get an interaction",
        description="The interaction with its messages (sensitive bodies hidden), call detail (transcript, recording, "
        "duration) and a summary of its provider events. Reading it unmasked is recorded in the audit log.",
    ),
    patch=extend_schema(
        tags=["interactions"],
        summary="Assign an agent or change the status",
        description="Supervisors assign (`assigned_agent`: a user id of an agent or supervisor, or null) and change "
        "the status; agents change the status of the interactions assigned to them. Status moves only along the "
        "allowed transitions; anything else is refused (400, or 409 from a final status). Every change is audited.",
        request=InteractionPatchSerializer,
        responses={200: InteractionDetailSerializer, 409: _TRANSITION_ERROR},
        examples=[
            OpenApiExample("Assign", value={"assigned_agent": 7}, request_only=True),
            OpenApiExample("Close", value={"status": "completed"}, request_only=True),
        ],
    ),
)
@extend_validation_errors(["invalid_agent"], field_name="assigned_agent", methods=["patch"])
@extend_validation_errors(["status_unchanged", "invalid_transition"], field_name="status", methods=["patch"])
@extend_validation_errors(["empty_patch"], field_name="non_field_errors", methods=["patch"])
class InteractionDetailView(_PiiContextMixin, generics.RetrieveUpdateAPIView):
    http_method_names = ["get", "patch", "head", "options"]
    serializer_class = InteractionDetailSerializer
    throttle_scope = "reads"

    def get_permissions(self):
        roles = CONSOLE_WRITERS if self.request.method == "PATCH" else READERS
        return [HasRole(*roles)()]

    def get_throttles(self):
        self.throttle_scope = "writes" if self.request.method == "PATCH" else "reads"
        return super().get_throttles()

    def get_queryset(self):
        return interaction_detail_queryset(agent=self.agent_scope())

    def _detail_response(self, interaction, reason: str) -> Response:
        context = self.get_serializer_context()
        context["event_summary"] = interaction_event_summary(interaction=interaction)
        if self.unmasked_by_permission(context):
            interaction_pii_reveal(
                interaction=interaction,
                actor=request_actor(self.request),
                reason=reason,
                ip_address=request_client_ip(self.request),
            )
        return Response(InteractionDetailSerializer(interaction, context=context).data)

    def retrieve(self, request, *args, **kwargs):
        return self._detail_response(self.get_object(), reason="api.interaction_detail")

    def partial_update(self, request, *args, **kwargs):
        interaction = self.get_object()
        payload = InteractionPatchSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        changes = payload.validated_data
        actor, ip_address = request_actor(request), request_client_ip(request)
        if "assigned_agent" in changes and caller_is_agent_only(request):
            raise PermissionDenied("Only supervisors assign interactions.")
        try:
            interaction_update(
                interaction=interaction,
                actor=actor,
                assignee=self._agent(changes["assigned_agent"]) if "assigned_agent" in changes else UNCHANGED,
                status=changes.get("status"),
                ip_address=ip_address,
            )
        except InvalidInput as exc:
            # Refusals of the input are validation errors of the field at fault, like any other bad input.
            raise serializers.ValidationError(
                {exc.attr or "non_field_errors": [serializers.ErrorDetail(exc.detail, code=exc.code)]}
            )
        interaction = self.get_queryset().get(pk=interaction.pk)
        return self._detail_response(interaction, reason="api.interaction_update")

    def update(self, request, *args, **kwargs):
        return self.partial_update(request, *args, **kwargs)

    @staticmethod
    def _agent(agent_id):
        if agent_id is None:
            return None
        agent = get_user_model().objects.filter(pk=agent_id).first()
        if agent is None:
            raise InvalidInput("No user has this id.", code="invalid_agent", attr="assigned_agent")
        return agent
