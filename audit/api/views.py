"""GET /api/audit-logs: the audit trail for auditors and supervisors, newest first, keyset-paginated."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import generics

from contactcenter.common.pagination import NewestFirstCursorPagination
from contactcenter.common.permissions import HasRole
from contactcenter.common.roles import AUDIT_READERS

from ..models import AuditLog
from .filters import AuditLogFilter
from .serializers import AuditLogSerializer


@extend_schema(
    tags=["audit"],
    summary="List audit records",
    description="Who did what, to which object, when and from where; newest first with cursor links. Filter by "
    "actor (`actor_type`, `actor`), `action`, target (`target_type`, `target_id`) and time "
    "(`created_after`, `created_before`). Auditors and supervisors only.",
)
@extend_validation_errors(["invalid"], field_name="target_id", methods=["get"])
class AuditLogListView(generics.ListAPIView):
    permission_classes = [HasRole(*AUDIT_READERS)]
    throttle_scope = "reads"
    serializer_class = AuditLogSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AuditLogFilter
    pagination_class = NewestFirstCursorPagination
    queryset = AuditLog.objects.all()
