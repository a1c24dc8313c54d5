from django.urls import path

from .views import TokenObtainView, TokenRefreshAccessView

app_name = "auth-api"

urlpatterns = [
    path("auth/token", TokenObtainView.as_view(), name="token"),
    path("auth/token/refresh", TokenRefreshAccessView.as_view(), name="token-refresh"),
]
