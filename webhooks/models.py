import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactcenter.common.masking import phones_mask
from interactions.models import Interaction


class EventStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    PROCESSED = "processed", _("Processed")
    FAILED = "failed", _("Failed")
    IGNORED = "ignored", _("Ignored")
    # Valid, but waiting for something it refers to (a status callback for a message we have not recorded yet).
    DEFERRED = "deferred", _("Deferred")


class InteractionEvent(models.Model):
    """One authenticated provider delivery, stored raw before it is applied (the event ledger)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(_("provider"), max_length=32)
    event_type = models.CharField(_("event type"), max_length=64, blank=True, default="")
    idempotency_key = models.CharField(_("idempotency key"), max_length=255)
    status = models.CharField(_("status"), max_length=16, choices=EventStatus.choices, default=EventStatus.RECEIVED)
    # The provider's id of what the event is about (conversation id, MessageSid…), to find deferred events.
    external_ref = models.CharField(_("external reference"), max_length=128, blank=True, default="")
    content_type = models.CharField(_("content type"), max_length=100, blank=True, default="")
    payload = models.JSONField(_("raw payload"), default=dict, blank=True)
    # The body exactly as it came, kept only when `payload` could not hold it as it was (a lone UTF-16 surrogate, a
    # NUL character, NaN, Infinity or a number out of range, all made storable in `payload`). Not editable: the admin
    # shows the payload, phone numbers masked, never this text. Retention and erasure clear it with the payload.
    raw_body = models.TextField(_("raw body"), null=True, blank=True, editable=False)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    normalized = models.JSONField(_("normalized"), default=dict, blank=True)
    signature_valid = models.BooleanField(_("signature valid"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True, default="")
    attempts = models.PositiveIntegerField(_("processing attempts"), default=0)
    interaction = models.ForeignKey(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    remote_addr = models.GenericIPAddressField(_("remote address"), null=True, blank=True)
    # Set by the ledger when it stores the delivery (the time its duplicate window is measured from).
    received_at = models.DateTimeField(_("received at"), default=timezone.now, editable=False)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    redacted_at = models.DateTimeField(_("redacted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "idempotency_key"], name="event_idempotency_key_uniq"),
            models.CheckConstraint(condition=Q(status__in=EventStatus.values), name="event_status_valid"),
        ]
        indexes = [
            models.Index(fields=["status", "-received_at"], name="event_status_idx"),
            models.Index(fields=["provider", "-received_at"], name="event_provider_idx"),
            models.Index(fields=["external_ref"], name="event_external_ref_idx"),
            models.Index(fields=["interaction", "received_at"], name="event_interaction_idx"),
            # With the id: the retention walk pages through due events by (received_at, id) without sorting them.
            models.Index(fields=["-received_at", "-id"], name="event_received_idx"),
        ]

    def __str__(self) -> str:
        # Shown as page titles and in logs: the event type comes from the provider and could carry a number.
        return phones_mask(f"{self.provider} {self.event_type} {self.status}")
