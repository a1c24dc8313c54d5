"""Signals other apps listen to, so that `interactions` never imports them (webhooks and otp depend on us, not the
reverse). Both are sent after the change has committed."""

from django.dispatch import Signal

# A message's status moved forward. kwargs: message_id (UUID), status (our word), previous_status.
message_status_changed = Signal()

# A provider accepted an outbound message and gave it an id (a Twilio SID…). kwargs: message_id, provider_message_id.
# Deferred status callbacks that arrived before the id was known are applied on this signal.
message_provider_id_assigned = Signal()
