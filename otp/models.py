import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from interactions.models import Interaction, Message, MessageStatus


class OtpStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    EXPIRED = "expired", _("Expired")
    MAX_ATTEMPTS = "max_attempts", _("Max attempts")
    CANCELED = "canceled", _("Canceled")
    FAILED = "failed", _("Failed")


class OtpChallenge(models.Model):
    """A one-time passcode sent to a phone for one purpose. Only an HMAC of the code is stored (`code_hash`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phone = models.CharField(_("phone"), max_length=32)
    phone_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    purpose = models.CharField(_("purpose"), max_length=32)
    code_hash = models.CharField(max_length=128, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=OtpStatus.choices, default=OtpStatus.PENDING)
    attempts = models.PositiveIntegerField(_("wrong attempts"), default=0)
    max_attempts = models.PositiveIntegerField(_("max attempts"))
    expires_at = models.DateTimeField(_("expires at"))
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True, default="")
    # HMAC of a canonical form of the transaction `context` (amount, payee…) the code is bound to, if any.
    context_hash = models.CharField(max_length=128, blank=True, default="", editable=False)
    message = models.ForeignKey(
        Message, verbose_name=_("SMS"), null=True, blank=True, on_delete=models.SET_NULL, related_name="otp_challenges"
    )
    interaction = models.ForeignKey(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="otp_challenges"
    )
    # The voice conversation the challenge was sent for (ElevenLabs server tools), if any.
    conversation_id = models.CharField(_("conversation id"), max_length=128, blank=True, default="")
    requested_by = models.CharField(_("requested by"), max_length=150, blank=True, default="")
    # The API client (key or user) that asked for it: the per-client rate limit counts by it.
    client_id = models.CharField(_("client"), max_length=150, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("OTP challenge")
        verbose_name_plural = _("OTP challenges")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=OtpStatus.values), name="otp_status_valid"),
            # At most one pending challenge per client, phone and purpose: a new one must cancel the client's old one in
            # its transaction (another client's challenge is not its to cancel).
            models.UniqueConstraint(
                fields=["client_id", "phone", "purpose"],
                condition=Q(status="pending"),
                name="otp_one_pending_per_client_phone_purpose",
            ),
            models.CheckConstraint(condition=Q(attempts__lte=models.F("max_attempts")), name="otp_attempts_bounded"),
        ]
        indexes = [
            models.Index(fields=["phone", "purpose", "-created_at"], name="otp_phone_purpose_idx"),
            models.Index(fields=["status", "expires_at"], name="otp_status_expiry_idx"),
            # With the id: the retention walk pages through due challenges by (created_at, id) without sorting them.
            models.Index(fields=["-created_at", "-id"], name="otp_created_idx"),
            models.Index(fields=["conversation_id"], name="otp_conversation_idx"),
            models.Index(fields=["phone_hash", "-created_at"], name="otp_phone_hash_idx"),
            models.Index(fields=["client_id", "-created_at"], name="otp_client_created_idx"),
        ]

    def __str__(self) -> str:
        return f"OTP {self.purpose} {self.status} {self.id}"

    @property
    def delivery_status(self) -> str:
        """The state of the SMS that carries the code: queued, sent, delivered or failed ("" without a message)."""
        if self.message_id is None:
            return ""
        return DELIVERY_STATUS_OF_MESSAGE.get(self.message.status, "queued")


# Our message statuses reduced to the four a client of the OTP API needs.
DELIVERY_STATUS_OF_MESSAGE = {
    MessageStatus.QUEUED: "queued",
    MessageStatus.SENDING: "queued",
    MessageStatus.SENT: "sent",
    MessageStatus.DELIVERED: "delivered",
    MessageStatus.READ: "delivered",
    MessageStatus.UNDELIVERED: "failed",
    MessageStatus.FAILED: "failed",
}


class OtpIdempotencyRecord(models.Model):
    """The first answer to `POST /api/otp` with an `Idempotency-Key`, per client, so a retry returns it again instead
    of sending a second SMS. `request_hash` is a keyed hash of the request (phone, purpose…), never the request."""

    id = models.BigAutoField(primary_key=True)
    client_id = models.CharField(_("client"), max_length=150)
    key = models.CharField(_("idempotency key"), max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"))
    response_body = models.JSONField(_("response"), default=dict)
    challenge = models.ForeignKey(
        OtpChallenge, null=True, blank=True, on_delete=models.SET_NULL, related_name="idempotency_records"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("OTP idempotency record")
        verbose_name_plural = _("OTP idempotency records")
        constraints = [
            models.UniqueConstraint(fields=["client_id", "key"], name="otp_idempotency_client_key_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.key}"


class OtpClientCounter(models.Model):
    """How many verifications an API client made in one fixed window (otp.limits): the per-client limit on
    verification, as OtpChallenge rows are the count of creations."""

    id = models.BigAutoField(primary_key=True)
    client_id = models.CharField(_("client"), max_length=150)
    window_start = models.DateTimeField(_("window start"))
    verifications = models.PositiveIntegerField(_("verifications"), default=0)

    class Meta:
        verbose_name = _("OTP client counter")
        verbose_name_plural = _("OTP client counters")
        constraints = [
            models.UniqueConstraint(fields=["client_id", "window_start"], name="otp_client_counter_window_uniq"),
        ]
        indexes = [models.Index(fields=["window_start"], name="otp_client_counter_start_idx")]

    def __str__(self) -> str:
        return f"{self.client_id} {self.window_start:%Y-%m-%d %H:%M} {self.verifications}"
