"""The small interfaces every provider folder implements, and our own records for what providers send us and what we
send them.

- Outbound: `SendBackend` (send an `OutboundMessage`, get a `SendResult` or a SendError), `LookupBackend` when the
  provider can also find a message an uncertain attempt may have created.
- Inbound: `InboundProvider`, one per provider webhook: authenticate a delivery (`AuthResult`), read it into events
  (`InboundEvent`: the ledger's `Identity`, the payload to store, the record read from it), apply one stored event
  (`Outcome`). The ledger (`webhooks`) stores and counts; a provider never imports it.

Records only one provider knows (`NormalizedStatusCallback`, `ElevenLabsEvent`…) live in that provider's folder."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from django.conf import settings
from django.http import HttpRequest


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


# --- inbound -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuthResult:
    """How a delivery was authenticated, or why not. `counter`: the ledger's counter this decision is counted in
    (`rejected_token`, `rejected_signature`, `signature_failed_log_only`; "" for none)."""

    ok: bool
    method: str  # signature | token | signature_log_only | unconfigured (DEBUG) | rejected
    reason: str = ""
    signature_valid: bool | None = None
    counter: str = ""


class BodyRejected(Exception):
    """A body that is not data at all (not JSON or form data, empty, too large, too many fields, a content type the
    webhook does not take): answered with `status` before anything is stored."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail

    @classmethod
    def too_many_fields(cls) -> "BodyRejected":
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return cls(400, "too_many_fields", f"More than {limit} form or query fields.")


class PayloadUnreadable(ValueError):
    """Data, but not an event of its provider we can read (no conversation id, no MessageSid…): the stored event is
    marked failed with this reason, ready for replay."""


@dataclass(frozen=True)
class Identity:
    """What identifies one delivery in the ledger.

    `content_keyed`: the key is a hash of the content, for deliveries without an identity of their own from the
    provider; only those may take the sender's `X-Idempotency-Key` instead (a header no signature covers never
    overrides a provider's own event id). `window_seconds` > 0: the content repeats legitimately (a customer
    answering "Sí" twice), so an identical delivery is a retry only within that many seconds of the one stored
    (the ledger adds a time bucket to the key, see `webhooks.services`). `apply_costly`: applying it costs more than
    a lookup (a recording to decode and store), so the ledger looks for a stored copy before applying, instead of
    applying and rolling back a repeat as it does for the others."""

    event_type: str
    idempotency_key: str
    external_ref: str = ""
    content_keyed: bool = False
    window_seconds: int = 0
    apply_costly: bool = False


@dataclass(frozen=True)
class InboundEvent:
    """One event of a delivery: its identity, the payload to store (made storable), and what reading it gave
    (`record`, handed back to `apply` so the payload is read once; None: `apply` reads the payload itself)."""

    identity: Identity
    payload: Any
    record: Any = None


@dataclass(frozen=True)
class InboundBody:
    """What a webhook read from one delivery: its events; whether it was a batch (a list); whether making it storable
    changed anything (then the raw body is kept beside it)."""

    events: list[InboundEvent]
    batch: bool = False
    changed: bool = False


class OutcomeStatus(StrEnum):
    """What applying an event did (the ledger's event status afterwards)."""

    PROCESSED = "processed"
    IGNORED = "ignored"  # a valid delivery we do not act on (an unknown event type)
    DEFERRED = "deferred"  # waits for something it refers to (a status callback for a message not recorded yet)
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    status: str
    error: str = ""
    normalized: dict = field(default_factory=dict)
    interaction_id: object = None
    external_ref: str | None = None
    payload: dict | None = None  # a replacement for the stored payload (the audio scrubbed out)


@dataclass(frozen=True)
class WebhookDocs:
    """A webhook's own part of the OpenAPI document (the shared parameters and answers are the view's)."""

    operation_id: str
    summary: str
    description: str
    request: dict[str, dict]  # media type: JSON Schema of the body


class InboundProvider(ABC):
    """One provider's webhook, from the raw request to the records it changes. The generic webhook view checks the
    size, calls `authenticate`, checks the content type, calls `read`, and hands each event to the ledger, which
    stores it and calls `apply` (at once, and again on replay, then with `record` None)."""

    name: ClassVar[str]  # the ledger's and the counters' name of the provider
    label: ClassVar[str]  # for people
    channel: ClassVar[str]  # the channel its deliveries are about
    webhook_path: ClassVar[str]  # under /webhooks/
    url_name: ClassVar[str]
    content_types: ClassVar[tuple[str, ...]] = ("application/json",)
    max_body_bytes: ClassVar[int | None] = None  # None: DATA_UPLOAD_MAX_MEMORY_SIZE
    token_in_query: ClassVar[bool] = False  # whether `?token=` is accepted (providers that cannot send headers)
    signature_header: ClassVar[str] = ""  # the provider's own signature header, if it signs
    docs: ClassVar[WebhookDocs]

    def body_limit(self) -> int:
        return self.max_body_bytes or settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def record_provider(self) -> str:
        """The provider's name on our interactions and messages."""
        return self.name

    def headers_kept(self, request: HttpRequest) -> dict[str, str]:
        """The provider's own headers worth storing with the delivery (never a secret)."""
        return {}

    def send_backend(self) -> SendBackend | None:
        """The backend that sends this provider's channel, when its settings are there; None for a provider we only
        hear from (or one not configured: the message then goes to the console backend)."""
        return None

    @abstractmethod
    def authenticate(self, request: HttpRequest, raw: bytes) -> AuthResult:
        """Token or signature; raises BodyRejected for a body that cannot even be read to check its signature."""

    @abstractmethod
    def read(self, request: HttpRequest, raw: bytes) -> InboundBody:
        """The delivery's events; raises BodyRejected for a body that is not data at all."""

    @abstractmethod
    def apply(self, *, payload: Any, received_at: datetime, record: Any = None) -> Outcome:
        """Apply one stored event to our records; raises PayloadUnreadable for one it cannot read."""


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


def environment_read_once(session: Any, url: str) -> Any:
    """Make a `requests.Session` read the environment (proxies for `url`, NO_PROXY, the CA bundle) now, once, instead of
    on every request: requests scans the whole environment twice per request when `trust_env` is on, which cost about
    a millisecond of CPU per SMS. What it finds is kept on the session, so a proxy or CA bundle set for the process is
    still used. Returns the session."""
    import os

    import requests

    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    return session
