"""Sending SMS through Twilio's Messages API with the official `twilio` library, and reading messages back.

`TWILIO_API_BASE_URL` points the library at another host (a local fake in tests and the simulator): the library
still builds Twilio's real paths (`/2010-04-01/Accounts/{sid}/Messages.json`), and our HTTP client swaps only the
scheme and host. The same client keeps the last raw response, so every error body shape and `Retry-After` can be read.

One backend per thread (`twilio_sms_backend`): its HTTP session keeps its connection to Twilio open from one message
to the next (no TCP and TLS handshake per SMS), and the last raw response it keeps is the thread's own.
"""

import logging
import threading
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from contactcenter.common.masking import phones_mask

from ..base import (
    LookupBackend,
    OutboundMessage,
    PermanentSendError,
    ProviderStatus,
    SendResult,
    TransientSendError,
    UncertainSendError,
    environment_read_once,
    request_never_sent,
)
from .errors import retry_after_seconds, twilio_error_is_retryable, twilio_error_parse
from .inbound import WEBHOOK_PATH
from .statuses import message_status_from_twilio

logger = logging.getLogger(__name__)

STATUS_CALLBACK_PATH = f"/webhooks/{WEBHOOK_PATH}"  # our status webhook
# Twilio's ValidityPeriod bounds (seconds).
_VALIDITY_MIN, _VALIDITY_MAX = 1, 36000
# A message found by `lookup` must have been created at most this long before the attempt began (clock skew).
_LOOKUP_SKEW = timedelta(minutes=2)


def twilio_status_callback_url(message_id: str) -> str:
    """Where Twilio posts this message's status changes: PUBLIC_BASE_URL + the status webhook, with our message id
    in the query (signed by Twilio as part of the URL). No token goes in the URL: Twilio signs every callback with
    the auth token we send with, and the webhook checks X-Twilio-Signature. Empty when PUBLIC_BASE_URL is not set
    (then the Messaging Service's own callback, if any, applies, and the reconciler polls statuses)."""
    base = settings.PUBLIC_BASE_URL
    if not base:
        return ""
    return f"{base}{STATUS_CALLBACK_PATH}?{urlencode({'msg_id': message_id})}"


class _TwilioHttpClient(TwilioHttpClient):
    """The library's HTTP client, sent to `base_url` when one is set, keeping the last response, and logging one
    line per request without headers (the library's own logging prints every header at INFO)."""

    def __init__(self, *, base_url: str, timeout: float):
        super().__init__(timeout=timeout, logger=logger)
        self.base_url = base_url
        self.last_response = None
        environment_read_once(self.session, base_url or "https://api.twilio.com")

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, **kwargs):
        self.last_response = None
        if self.base_url:
            target, base = urlsplit(url), urlsplit(self.base_url)
            url = urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + target.path, target.query, ""))
        response = super().request(
            method, url, params=params, data=data, headers=headers, auth=auth, timeout=timeout, **kwargs
        )
        self.last_response = response
        return response

    def log_request(self, kwargs: dict) -> None:
        logger.debug("twilio_request", extra={"method": kwargs["method"], "path": urlsplit(kwargs["url"]).path})

    def log_response(self, status_code: int, response: object) -> None:
        logger.debug("twilio_response", extra={"http_status": status_code})


_local = threading.local()


def _settings_key() -> tuple:
    return (
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        settings.TWILIO_API_BASE_URL,
        settings.MESSAGE_SEND_TIMEOUT_SECONDS,
    )


def twilio_sms_backend() -> "TwilioSmsBackend":
    """This thread's backend, built once and reused, so its pooled HTTP session keeps the connection to Twilio alive
    across messages (a worker's pool thread sends many). Built again when the settings it was built from change."""
    backend = getattr(_local, "backend", None)
    key = _settings_key()
    if backend is None or backend.settings_key != key:
        backend = TwilioSmsBackend()
        _local.backend = backend
    return backend


class TwilioSmsBackend(LookupBackend):
    """SMS through Twilio. Raises PermanentSendError (do not retry), TransientSendError (retry with backoff) or
    UncertainSendError (may have been created: look it up before sending again)."""

    name = "twilio"

    def __init__(self):
        self.settings_key = _settings_key()
        self._http = _TwilioHttpClient(
            base_url=settings.TWILIO_API_BASE_URL, timeout=settings.MESSAGE_SEND_TIMEOUT_SECONDS
        )
        self._client = Client(
            username=settings.TWILIO_ACCOUNT_SID,
            password=settings.TWILIO_AUTH_TOKEN,
            account_sid=settings.TWILIO_ACCOUNT_SID,
            http_client=self._http,
        )

    # --- sending ----------------------------------------------------------------------------------------------
    def send(self, message: OutboundMessage) -> SendResult:
        params: dict = {"to": message.to_phone, "body": message.body}
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            params["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            params["from_"] = settings.TWILIO_FROM_NUMBER
        callback = twilio_status_callback_url(message.message_id)
        if callback:
            params["status_callback"] = callback
        if message.validity_seconds:
            params["validity_period"] = min(max(int(message.validity_seconds), _VALIDITY_MIN), _VALIDITY_MAX)
        try:
            resource = self._client.messages.create(**params)
        except Exception as exc:
            raise self._error(exc, creating=True) from exc
        return SendResult(
            provider_message_id=resource.sid,
            status=message_status_from_twilio(resource.status) or "queued",
            provider_status=str(resource.status or ""),
        )

    def lookup(self, message: OutboundMessage, *, since: datetime) -> SendResult | None:
        """The message Twilio created for an earlier attempt whose answer we never read, or None.

        Twilio has no idempotency key for creates, so we list the newest messages to the same number and match the
        body and the creation time (not before the earlier attempt began)."""
        try:
            candidates = self._client.messages.list(to=message.to_phone, limit=50, page_size=50)
        except Exception as exc:
            raise self._error(exc, creating=False) from exc
        for resource in candidates:
            created = resource.date_created
            if (resource.direction or "").startswith("outbound") and resource.body == message.body:
                if created is None or created >= since - _LOOKUP_SKEW:
                    return SendResult(
                        provider_message_id=resource.sid,
                        status=message_status_from_twilio(resource.status) or "queued",
                        provider_status=str(resource.status or ""),
                    )
        return None

    # --- reading back -----------------------------------------------------------------------------------------
    def fetch(self, provider_message_id: str) -> ProviderStatus:
        try:
            resource = self._client.messages(provider_message_id).fetch()
        except Exception as exc:
            raise self._error(exc, creating=False) from exc
        code = "" if resource.error_code in (None, "") else str(resource.error_code)
        return ProviderStatus(
            provider_message_id=resource.sid,
            provider_status=str(resource.status or ""),
            error_code=code,
            error_message=phones_mask(str(resource.error_message or ""))[:500],
        )

    # --- errors -----------------------------------------------------------------------------------------------
    def _error(self, exc: Exception, *, creating: bool) -> Exception:
        if isinstance(exc, requests.RequestException):
            reason = f"{type(exc).__name__} talking to Twilio"
            if request_never_sent(exc) or not creating:
                return TransientSendError(reason, code="network")
            return UncertainSendError(reason, code="network")
        if not isinstance(exc, TwilioRestException | TwilioServiceException):
            if isinstance(exc, TwilioException | ValueError | KeyError):
                # An answer the library could not read (not JSON, no sid): treat like a 5xx.
                return (UncertainSendError if creating else TransientSendError)(
                    f"Unreadable answer from Twilio ({type(exc).__name__})", code="bad_response"
                )
            return exc
        response = self._http.last_response
        http_status = int(getattr(response, "status_code", None) or getattr(exc, "status", 0) or 0)
        info = twilio_error_parse(http_status, getattr(response, "text", ""))
        code = info.code or ("20429" if http_status == 429 else str(http_status or getattr(exc, "code", None) or ""))
        headers = getattr(response, "headers", None) or {}
        retry_after = retry_after_seconds(headers.get("Retry-After") if hasattr(headers, "get") else None)
        if http_status == 429 or code == "20429":
            return TransientSendError(info.message, code=code, http_status=http_status, retry_after=retry_after)
        if http_status >= 500:
            error_class = UncertainSendError if creating else TransientSendError
            return error_class(info.message, code=code, http_status=http_status, retry_after=retry_after)
        if twilio_error_is_retryable(code, http_status):
            return TransientSendError(info.message, code=code, http_status=http_status, retry_after=retry_after)
        return PermanentSendError(info.message, code=code or str(http_status), http_status=http_status)
