from django.urls import path

from .views import BuilderBotWhatsAppWebhookView, ElevenLabsCallWebhookView, TwilioSmsStatusWebhookView

app_name = "webhooks"

urlpatterns = [
    path("elevenlabs/call", ElevenLabsCallWebhookView.as_view(), name="elevenlabs-call"),
    path("builderbot/whatsapp", BuilderBotWhatsAppWebhookView.as_view(), name="builderbot-whatsapp"),
    path("twilio/sms/status", TwilioSmsStatusWebhookView.as_view(), name="twilio-sms-status"),
]
