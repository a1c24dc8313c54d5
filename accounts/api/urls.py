from django.urls import path

from .views import LogoutView, TokenObtainView, TokenRefreshView

app_name = "auth-api"

urlpatterns = [
    path("auth/token", TokenObtainView.as_view(), name="token"),
    path("auth/token/refresh", TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/logout", LogoutView.as_view(), name="logout"),
]
