from django.urls import path

from .messages import InteractionMessageCreateView
from .views import InteractionDetailView, InteractionListView

app_name = "interactions-api"

urlpatterns = [
    path("interactions", InteractionListView.as_view(), name="interaction-list"),
    path("interactions/<uuid:pk>", InteractionDetailView.as_view(), name="interaction-detail"),
    path("interactions/<uuid:pk>/messages", InteractionMessageCreateView.as_view(), name="interaction-messages"),
]
