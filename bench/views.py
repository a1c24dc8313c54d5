"""The ceiling of the webhook benchmarks: the same stack (gunicorn, Django middleware, PostgreSQL) answering a POST
by inserting one row, with no authentication, parsing or business rules. Mounted only when BENCH_ENDPOINTS is on."""

import uuid

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from webhooks.models import InteractionEvent


@csrf_exempt
@require_POST
def ceiling_insert_one_row(request):
    InteractionEvent.objects.create(provider="bench", event_type="ceiling", idempotency_key=uuid.uuid4().hex)
    return JsonResponse({"status": "ok"})
