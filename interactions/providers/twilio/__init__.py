"""Twilio Programmable Messaging: send and read back (client), status callbacks (inbound: the webhook; callbacks: their
fields and signature), status words (statuses), error codes (errors)."""

from .client import STATUS_CALLBACK_PATH, TwilioSmsBackend, twilio_sms_backend, twilio_status_callback_url

__all__ = ["STATUS_CALLBACK_PATH", "TwilioSmsBackend", "twilio_sms_backend", "twilio_status_callback_url"]
