"""Our own records for what providers send us and what we send them, the errors of an outbound send, and the small
interfaces every provider folder implements (`SendBackend`, `LookupBackend`)."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True)
class OutboundMessage:
    """What a send backend needs. `body` may hold an OTP code: backends must never log it."""

    message_id: str
    channel: str
    to_phone: str
    body: str
    media_url: str = ""
    # The provider's own address of the customer where it is not `to_phone` (a WhatsApp id): send to it.
    to_address: str = ""
    is_sensitive: bool = False
    # Seconds after which the provider should drop the message rather than deliver it late (OTP codes); 0: its default.
    validity_seconds: int = 0


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str | None
    # Our status word after the provider accepted the message (`sent` when it took it, `queued` if it queued it).
    status: str = "sent"
    provider_status: str = ""
    raw: dict = field(default_factory=dict)


class SendError(Exception):
    def __init__(self, detail: str, *, code: str = "", http_status: int | None = None):
        super().__init__(detail)
        self.detail = detail
        self.code = str(code or "")
        self.http_status = http_status


class TransientSendError(SendError):
    """Worth retrying: timeouts, connection errors, 429, 5xx."""

    def __init__(
        self, detail: str, *, code: str = "", http_status: int | None = None, retry_after: float | None = None
    ):
        super().__init__(detail, code=code, http_status=http_status)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """Will fail again: invalid number, unsubscribed recipient, region not enabled, bad credentials."""


class UncertainSendError(TransientSendError):
    """The request may have reached the provider (a read timeout, a dropped connection, a 5xx on create): the message
    may exist there. Before sending again, ask the provider (`lookup`) whether it has it."""


@dataclass(frozen=True)
class ProviderStatus:
    """A message's status as the provider reports it now (reconciliation)."""

    provider_message_id: str
    provider_status: str
    error_code: str = ""
    error_message: str = ""


class SendBackend(ABC):
    """Delivers an outbound message through one provider. Raises PermanentSendError (do not retry),
    TransientSendError (retry with backoff) or UncertainSendError (it may have been created: look it up first, where
    the backend can)."""

    name: ClassVar[str]  # stored on the Message as its provider

    @abstractmethod
    def send(self, message: OutboundMessage) -> SendResult: ...


class LookupBackend(SendBackend):
    """A send backend that can also find a message an earlier, uncertain attempt may have created."""

    @abstractmethod
    def lookup(self, message: OutboundMessage, *, since: datetime) -> SendResult | None:
        """The provider's copy of `message` created by an attempt that began at `since` or later, or None."""


def request_never_sent(exc: Exception) -> bool:
    """True when an HTTP call failed before the request left (refused connection, DNS failure, connect timeout), so
    the provider cannot have acted on it; False for read timeouts and dropped connections, which may have."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", exc.args[0])
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False
