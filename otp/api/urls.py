from django.urls import path

from .views import OtpCancelView, OtpChallengeDetailView, OtpCreateView, OtpVerifyView

app_name = "otp-api"

urlpatterns = [
    path("otp", OtpCreateView.as_view(), name="otp-create"),
    path("otp/verify", OtpVerifyView.as_view(), name="otp-verify"),
    path("otp/<uuid:challenge_id>", OtpChallengeDetailView.as_view(), name="otp-detail"),
    path("otp/<uuid:challenge_id>/cancel", OtpCancelView.as_view(), name="otp-cancel"),
]
