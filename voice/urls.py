"""The voice agent's endpoints, under /webhooks/ beside the provider deliveries (paths fixed by the contract)."""

from django.urls import path

from .views import VoiceInitiationWebhookView, VoiceOtpSendToolView, VoiceOtpVerifyToolView

app_name = "voice"

urlpatterns = [
    path("elevenlabs/tools/otp/send", VoiceOtpSendToolView.as_view(), name="elevenlabs-tool-otp-send"),
    path("elevenlabs/tools/otp/verify", VoiceOtpVerifyToolView.as_view(), name="elevenlabs-tool-otp-verify"),
    path("elevenlabs/initiation", VoiceInitiationWebhookView.as_view(), name="elevenlabs-initiation"),
]
