import contextlib
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from contactcenter.common.pii import InvalidPhoneNumber, phone_hash, phone_normalize


class Channel(models.TextChoices):
    CALL = "call", _("Call")
    WHATSAPP = "whatsapp", _("WhatsApp")
    SMS = "sms", _("SMS")


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")


class InteractionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    ABANDONED = "abandoned", _("Abandoned")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    UNDELIVERED = "undelivered", _("Undelivered")
    FAILED = "failed", _("Failed")
    RECEIVED = "received", _("Received")
    READ = "read", _("Read")


# Forward-only order of message statuses. A status may replace another only if its rank is higher; the terminal
# failures outrank every non-terminal status and are never replaced (a late `delivered` after `undelivered` is
# ignored, like Twilio's own final state).
MESSAGE_STATUS_RANK: dict[str, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.READ: 4,
    MessageStatus.RECEIVED: 4,
    MessageStatus.UNDELIVERED: 5,
    MessageStatus.FAILED: 5,
}
MESSAGE_FINAL_STATUSES = frozenset(
    {MessageStatus.UNDELIVERED, MessageStatus.FAILED, MessageStatus.READ, MessageStatus.RECEIVED}
)


def _choices_check(field: str, choices: type[models.TextChoices], name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


class Interaction(models.Model):
    """One contact between a customer and the bank: a call, a WhatsApp conversation or an SMS exchange."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    direction = models.CharField(_("direction"), max_length=16, choices=Direction.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=InteractionStatus.choices, default=InteractionStatus.OPEN
    )
    customer_phone = models.CharField(_("customer phone"), max_length=32, blank=True, default="")
    # Keyed hash of the E.164 number: finds a customer's interactions even after the number itself is redacted.
    customer_phone_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    # The address the provider knows the customer by, where it is not the canonical number (WhatsApp's `521…` ids
    # of Mexican mobiles): what replies are sent to. A phone number: never shown, redacted with the number.
    customer_address = models.CharField(max_length=32, blank=True, default="", editable=False)
    provider = models.CharField(_("provider"), max_length=32)
    external_id = models.CharField(_("external id"), max_length=128, null=True, blank=True)
    assigned_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned agent"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_interactions",
    )
    subject = models.CharField(_("subject"), max_length=255, blank=True, default="")
    summary = models.TextField(_("summary"), blank=True, default="")
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    verified_at = models.DateTimeField(_("customer verified at"), null=True, blank=True)
    verified_by_challenge_id = models.UUIDField(_("verified by OTP challenge"), null=True, blank=True)
    redacted_at = models.DateTimeField(_("redacted at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ["-created_at", "-id"]
        permissions = [("view_pii", _("Can see customers' unmasked phone numbers"))]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "external_id"],
                condition=Q(external_id__isnull=False),
                name="interaction_provider_external_id_uniq",
            ),
            _choices_check("channel", Channel, "interaction_channel_valid"),
            _choices_check("direction", Direction, "interaction_direction_valid"),
            _choices_check("status", InteractionStatus, "interaction_status_valid"),
        ]
        # Every list filter is served by an index that also carries the newest-first order (keyset pagination).
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="interaction_created_idx"),
            models.Index(fields=["channel", "-created_at", "-id"], name="interaction_channel_idx"),
            models.Index(fields=["status", "-created_at", "-id"], name="interaction_status_idx"),
            models.Index(fields=["direction", "-created_at", "-id"], name="interaction_direction_idx"),
            models.Index(fields=["provider", "-created_at", "-id"], name="interaction_provider_idx"),
            models.Index(fields=["assigned_agent", "-created_at", "-id"], name="interaction_agent_idx"),
            models.Index(fields=["customer_phone_hash", "-created_at"], name="interaction_phone_hash_idx"),
            models.Index(fields=["customer_phone", "-created_at"], name="interaction_phone_idx"),
            models.Index(fields=["-last_activity_at"], name="interaction_activity_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.get_direction_display()} {self.id}"

    def save(self, *args, **kwargs):
        if self.customer_phone and "*" not in self.customer_phone:
            # One identity per number however it was spelled (pii.phone_normalize); the hash is of that identity.
            with contextlib.suppress(InvalidPhoneNumber):
                self.customer_phone = phone_normalize(self.customer_phone)
            self.customer_phone_hash = phone_hash(self.customer_phone)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "customer_phone" in update_fields:
            kwargs["update_fields"] = {*update_fields, "customer_phone_hash"}
        super().save(*args, **kwargs)


class Message(models.Model):
    """One WhatsApp or SMS message. For outbound messages the row is the source of truth of the delivery: it is
    written `queued` before any task runs, and the delivery task and sweeper work from it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    interaction = models.ForeignKey(Interaction, on_delete=models.CASCADE, related_name="messages")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    direction = models.CharField(_("direction"), max_length=16, choices=Direction.choices)
    status = models.CharField(_("status"), max_length=16, choices=MessageStatus.choices)
    # The provider's own status word, kept as received (including values we map to nothing).
    provider_status = models.CharField(_("provider status"), max_length=32, blank=True, default="")
    to_phone = models.CharField(_("to"), max_length=32, blank=True, default="")
    from_phone = models.CharField(_("from"), max_length=32, blank=True, default="")
    # The provider address the message was sent to, where it is not `to_phone` (see Interaction.customer_address).
    to_address = models.CharField(max_length=32, blank=True, default="", editable=False)
    body = models.TextField(_("body"), blank=True, default="")
    media_url = models.URLField(_("media URL"), max_length=1000, blank=True, default="")
    media_type = models.CharField(_("media type"), max_length=100, blank=True, default="")
    provider = models.CharField(_("provider"), max_length=32)
    provider_message_id = models.CharField(_("provider message id"), max_length=128, null=True, blank=True)
    # Marks messages whose body must never be shown or logged (OTP codes): the admin and API show a placeholder.
    is_sensitive = models.BooleanField(_("sensitive body"), default=False)
    purpose = models.CharField(_("purpose"), max_length=32, blank=True, default="")
    error_code = models.CharField(_("error code"), max_length=32, blank=True, default="")
    error_message = models.CharField(_("error message"), max_length=500, blank=True, default="")
    send_attempts = models.PositiveIntegerField(_("send attempts"), default=0)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    # The failed message this one resends (message_resend). A message is resent at most once: the unique constraint
    # below, which also serves as this column's index.
    resent_from = models.ForeignKey(
        "self",
        verbose_name=_("resent from"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resends",
        db_index=False,
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_message_id"],
                condition=Q(provider_message_id__isnull=False),
                name="message_provider_message_id_uniq",
            ),
            models.UniqueConstraint(fields=["resent_from"], name="message_resent_once"),
            models.CheckConstraint(condition=Q(channel__in=["whatsapp", "sms"]), name="message_channel_valid"),
            _choices_check("direction", Direction, "message_direction_valid"),
            _choices_check("status", MessageStatus, "message_status_valid"),
        ]
        indexes = [
            models.Index(fields=["interaction", "created_at"], name="message_interaction_idx"),
            models.Index(fields=["status", "updated_at"], name="message_status_idx"),
            models.Index(fields=["channel", "status", "-created_at"], name="message_channel_status_idx"),
            # With the id: the retention walk pages through due rows by (created_at, id) without sorting them.
            models.Index(fields=["-created_at", "-id"], name="message_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.get_direction_display()} {self.status} {self.id}"


class CallDetail(models.Model):
    """What a voice call left behind: numbers, duration, transcript, recording, end reason and the agent's analysis."""

    interaction = models.OneToOneField(
        Interaction, primary_key=True, on_delete=models.CASCADE, related_name="call_detail"
    )
    conversation_id = models.CharField(_("conversation id"), max_length=128, unique=True)
    agent_id = models.CharField(_("voice agent id"), max_length=128, blank=True, default="")
    agent_name = models.CharField(_("voice agent name"), max_length=255, blank=True, default="")
    call_sid = models.CharField(_("call SID"), max_length=128, blank=True, default="")
    phone_call_type = models.CharField(_("telephony"), max_length=32, blank=True, default="")
    customer_number = models.CharField(_("customer number"), max_length=32, blank=True, default="")
    agent_number = models.CharField(_("bank line"), max_length=32, blank=True, default="")
    conversation_status = models.CharField(_("conversation status"), max_length=32, blank=True, default="")
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(_("duration (s)"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=255, blank=True, default="")
    failure_reason = models.CharField(_("failure reason"), max_length=64, blank=True, default="")
    call_successful = models.CharField(_("call successful"), max_length=16, blank=True, default="")
    summary_title = models.CharField(_("summary title"), max_length=255, blank=True, default="")
    summary = models.TextField(_("summary"), blank=True, default="")
    transcript = models.JSONField(_("transcript"), default=list, blank=True)
    analysis = models.JSONField(_("analysis"), default=dict, blank=True)
    recording = models.FileField(_("recording"), upload_to="recordings/%Y/%m/", blank=True, default="")
    recording_url = models.URLField(_("recording URL"), max_length=1000, blank=True, default="")
    has_audio = models.BooleanField(_("has audio"), null=True, blank=True)
    cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=4, null=True, blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("call detail")
        verbose_name_plural = _("call details")
        indexes = [
            # The retention walk pages through due call details by (created_at, interaction_id).
            models.Index(fields=["-created_at", "-interaction"], name="calldetail_created_idx"),
        ]

    def __str__(self) -> str:
        return f"call {self.conversation_id}"
