"""Every action an audit record can name, defined once.

The values are stored in `AuditLog.action`, filtered on by the API and the back office, and covered by the hash
chain: they never change. A new kind of record adds a member here; callers pass the member
(`audit_log_record(action=AuditAction.OTP_CREATED, …)`), which is a `str` equal to its value."""

from enum import StrEnum


class AuditAction(StrEnum):
    # accounts: API keys and console sign-in
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    AUTH_SIGNED_IN = "auth.signed_in"
    AUTH_SIGNED_OUT = "auth.signed_out"
    AUTH_REFRESH_REUSED = "auth.refresh_reused"
    AUTH_TOKENS_REVOKED = "auth.tokens_revoked"
    AUTH_LOCKED_OUT = "auth.locked_out"

    # interactions and messages
    INTERACTION_ASSIGNED = "interaction.assigned"
    INTERACTION_STATUS_CHANGED = "interaction.status_changed"
    INTERACTION_PII_VIEWED = "interaction.pii_viewed"
    INTERACTION_PII_LISTED = "interaction.pii_listed"
    INTERACTIONS_EXPORTED = "interactions.exported"
    MESSAGE_QUEUED = "message.queued"
    MESSAGE_RESENT = "message.resent"

    # one-time passcodes
    OTP_CREATED = "otp.created"
    OTP_APPROVED = "otp.approved"
    OTP_VERIFY_FAILED = "otp.verify_failed"
    OTP_LOCKED = "otp.locked"
    OTP_EXPIRED = "otp.expired"
    OTP_CANCELED = "otp.canceled"
    OTP_FAILED = "otp.failed"
    OTP_PURGED = "otp.purged"

    # the voice agent's tools
    VOICE_INITIATION = "voice.initiation"
    VOICE_OTP_REFUSED = "voice.otp_refused"
    VOICE_OTP_SEND_REPEATED = "voice.otp_send_repeated"

    # webhooks
    WEBHOOK_EVENT_REPLAYED = "webhook_event.replayed"

    # retention: one record per batch a rule redacted or deleted, one per run, one per customer erased
    RETENTION_REDACT = "retention.redact"
    RETENTION_DELETE = "retention.delete"
    RETENTION_RUN = "retention.run"
    RETENTION_CUSTOMER_ERASE = "retention.customer_erase"
