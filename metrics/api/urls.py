from django.urls import path

from .views import MetricsDailyView, MetricsSummaryView

app_name = "metrics-api"

urlpatterns = [
    path("metrics/summary", MetricsSummaryView.as_view(), name="summary"),
    path("metrics/daily", MetricsDailyView.as_view(), name="daily"),
]
