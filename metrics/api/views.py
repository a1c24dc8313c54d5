"""GET /api/metrics/summary and GET /api/metrics/daily. Definitions: metrics/selectors.py and docs/api.md "Metrics"."""

from drf_spectacular.utils import extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework.response import Response
from rest_framework.views import APIView

from contactcenter.common.permissions import HasRole
from contactcenter.common.roles import METRICS_READERS

from ..selectors import MetricsWindow, metrics_daily, metrics_summary
from .serializers import MetricsDailySerializer, MetricsQuerySerializer, MetricsSummarySerializer

_DEFINITIONS = (
    " Days are calendar days in the server's TIME_ZONE, both ends included; each record counts on the day it was "
    "created (webhook deliveries: received). Rates are null when nothing was counted. See docs/api.md, Metrics "
    "section for what starts and ends each measure and what is excluded."
)


def _documents_query_errors(view):
    """The 400s of the query parameters, in the OpenAPI document."""
    view = extend_validation_errors(["invalid", "out_of_range"], field_name="date_from", methods=["get"])(view)
    view = extend_validation_errors(["invalid", "out_of_range"], field_name="date_to", methods=["get"])(view)
    return extend_validation_errors(["invalid_choice"], field_name="channel", methods=["get"])(view)


class _MetricsView(APIView):
    permission_classes = [HasRole(*METRICS_READERS)]
    throttle_scope = "reads"

    def window(self, request) -> MetricsWindow:
        query = MetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return MetricsWindow(**query.validated_data)


@_documents_query_errors
class MetricsSummaryView(_MetricsView):
    @extend_schema(
        tags=["metrics"],
        summary="Metrics summary",
        description="Interactions by channel and status, calls' average and p90 duration, message delivery rate, "
        "median time to delivered and failures by error code, OTP approval and abandonment, webhook failure rate."
        + _DEFINITIONS,
        parameters=[MetricsQuerySerializer],
        responses={200: MetricsSummarySerializer},
    )
    def get(self, request):
        return Response(MetricsSummarySerializer(metrics_summary(window=self.window(request))).data)


@_documents_query_errors
class MetricsDailyView(_MetricsView):
    @extend_schema(
        tags=["metrics"],
        summary="Metrics per day",
        description="One row per day of the range: interactions, calls' average duration, SMS sent/delivered and "
        "delivery rate, OTP sent/verified and their ratio, webhook deliveries/failures and failure rate."
        + _DEFINITIONS,
        parameters=[MetricsQuerySerializer],
        responses={200: MetricsDailySerializer},
    )
    def get(self, request):
        window = self.window(request)
        payload = {
            "date_from": window.date_from,
            "date_to": window.date_to,
            "channel": window.channel,
            "days": metrics_daily(window=window),
        }
        return Response(MetricsDailySerializer(payload).data)
