from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from contactcenter.common.errors import api_path_not_found
from contactcenter.common.health import HealthView

handler400 = "contactcenter.common.errors.json_or_default_400"
handler403 = "contactcenter.common.errors.json_or_default_403"
handler404 = "contactcenter.common.errors.json_or_default_404"
handler500 = "contactcenter.common.errors.json_or_default_500"

urlpatterns = [
    path("api/health", HealthView.as_view(), name="health"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file of its own: no inline script (CSP).
    path("api/docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/", include("interactions.api.urls")),
    path("api/", include("otp.api.urls")),
    path("api/", include("audit.api.urls")),
    path("api/", include("accounts.api.urls")),
    path("api/", include("metrics.api.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("webhooks/", include("voice.urls")),
    path("admin/", admin.site.urls),
    # Last under /api/ and /webhooks/: any other path there is a JSON 404 (any method, DEBUG or not).
    re_path(r"^(?:api|webhooks)/", csrf_exempt(api_path_not_found), name="api-not-found"),
]

if settings.BENCH_ENDPOINTS:
    urlpatterns.append(path("bench/", include("bench.urls")))
