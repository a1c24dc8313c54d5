from django.urls import path

from .views import BuilderBotWhatsAppWebhookView, ElevenLabsCallWebhookView, TwilioSmsStatusWebhookView
from .voice_tools import VoiceInitiationWebhookView, VoiceOtpSendToolView, VoiceOtpVerifyToolView

app_name = "webhooks"

urlpatterns = [
    path("elevenlabs/call", ElevenLabsCallWebhookView.as_view(), name="elevenlabs-call"),
    path("builderbot/whatsapp", BuilderBotWhatsAppWebhookView.as_view(), name="builderbot-whatsapp"),
    path("twilio/sms/status", TwilioSmsStatusWebhookView.as_view(), name="twilio-sms-status"),
    path("elevenlabs/tools/otp/send", VoiceOtpSendToolView.as_view(), name="elevenlabs-tool-otp-send"),
    path("elevenlabs/tools/otp/verify", VoiceOtpVerifyToolView.as_view(), name="elevenlabs-tool-otp-verify"),
    path("elevenlabs/initiation", VoiceInitiationWebhookView.as_view(), name="elevenlabs-initiation"),
]
