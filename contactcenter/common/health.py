import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

# Informational parts of the answer that apps add from their `ready()` (e.g. the audit chain's last verification):
# shown under `checks` while the database is up, they change neither the status code nor the overall status.
_reports: dict[str, Callable[[], dict]] = {}


def health_report_register(name: str, report: Callable[[], dict]) -> None:
    _reports[name] = report


def _reports_collect() -> dict:
    collected = {}
    for name, report in _reports.items():
        try:
            collected[name] = report()
        except Exception as exc:  # a report never breaks the health answer
            connection.close_if_unusable_or_obsolete()
            collected[name] = {"status": "unknown", "error": type(exc).__name__}
    return collected


def _check_database() -> dict:
    started = time.perf_counter()
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"
        connection.close_if_unusable_or_obsolete()
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "up", "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _check_broker() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"status": "eager", "detail": "tasks run in-process"}
    import redis

    started = time.perf_counter()
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
        client.ping()
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "up", "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


_health_body = inline_serializer(
    name="Health",
    fields={
        "status": serializers.ChoiceField(choices=["ok", "degraded", "down"]),
        "checks": serializers.DictField(child=serializers.DictField()),
    },
)


class HealthView(APIView):
    """Liveness and dependencies for load balancers: 200 while the database answers (the broker being down only
    degrades the service: messages wait in the database), 503 when the database is down. Apps' reports (the audit
    chain's last verification) are shown alongside and never change the status."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="health",
        tags=["health"],
        responses={200: _health_body, 503: OpenApiResponse(_health_body, description="The database is down.")},
    )
    def get(self, request):
        checks = {"database": _check_database(), "broker": _check_broker()}
        if checks["database"]["status"] != "up":
            return Response({"status": "down", "checks": checks}, status=503)
        overall = "ok" if checks["broker"]["status"] in ("up", "eager") else "degraded"
        checks.update(_reports_collect())
        return Response({"status": overall, "checks": checks})
