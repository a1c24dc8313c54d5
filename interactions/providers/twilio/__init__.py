"""Twilio Programmable Messaging: send (client), status words (statuses), error codes (errors), callbacks."""
