"""Sending WhatsApp messages through BuilderBot Cloud's HTTP API (`POST {BUILDERBOT_API_URL}/api/v2/{project}/messages`,
header `x-api-builderbot`). The answer's body is not documented: 200 or 201 is success, whatever the body says.
Each thread keeps one `requests.Session`, so a worker thread reuses its connection to BuilderBot across messages."""

import logging
import re
import threading

import requests
from django.conf import settings

from contactcenter.common.masking import phones_mask

from ..base import (
    OutboundMessage,
    PermanentSendError,
    SendBackend,
    SendResult,
    TransientSendError,
    UncertainSendError,
    environment_read_once,
    request_never_sent,
)
from ..twilio.errors import retry_after_seconds

logger = logging.getLogger(__name__)

# Keys under which a send answer might name the message it created (undocumented; read defensively).
_ID_KEYS = ("messageId", "message_id", "id")
_local = threading.local()


def _session() -> requests.Session:
    """This thread's HTTP session (its pooled connections are kept alive between sends), new when the URL changes."""
    session = getattr(_local, "session", None)
    if session is None or getattr(_local, "url", None) != settings.BUILDERBOT_API_URL:
        session = environment_read_once(requests.Session(), settings.BUILDERBOT_API_URL)
        _local.session, _local.url = session, settings.BUILDERBOT_API_URL
    return session


def builderbot_number(e164: str, address: str = "") -> str:
    """BuilderBot wants the number as WhatsApp knows it: digits with the country code, no `+`, spaces or dashes.
    The address BuilderBot itself reported for the customer wins; without one, a Mexican mobile is written the way
    WhatsApp ids write it (`521` + ten digits), the other numbers as their E.164 digits."""
    if address:
        return re.sub(r"[^0-9]", "", address)
    digits = re.sub(r"[^0-9]", "", e164 or "")
    if digits.startswith("52") and len(digits) == 12:
        return "521" + digits[2:]
    return digits


def _message_id_from(payload: object) -> str | None:
    for candidate in (payload, payload.get("data") if isinstance(payload, dict) else None):
        if isinstance(candidate, dict):
            for key in _ID_KEYS:
                value = candidate.get(key)
                if isinstance(value, str | int) and str(value).strip():
                    return str(value).strip()[:128]
    return None


class BuilderBotWhatsAppBackend(SendBackend):
    """WhatsApp through BuilderBot. Raises PermanentSendError, TransientSendError or UncertainSendError like the
    Twilio backend. BuilderBot offers no way to look a sent message up, so an uncertain send is sent again."""

    name = "builderbot"

    def send(self, message: OutboundMessage) -> SendResult:
        url = f"{settings.BUILDERBOT_API_URL}/api/v2/{settings.BUILDERBOT_PROJECT_ID}/messages"
        content: dict = {"content": message.body}
        if message.media_url:
            content["mediaUrl"] = message.media_url
        payload: dict = {
            "messages": content,
            "number": builderbot_number(message.to_phone, message.to_address),
            "checkIfExists": False,
        }
        headers = {"x-api-builderbot": settings.BUILDERBOT_API_KEY, "Accept": "application/json"}
        try:
            response = _session().post(
                url, json=payload, headers=headers, timeout=settings.MESSAGE_SEND_TIMEOUT_SECONDS
            )
        except requests.RequestException as exc:
            error_class = TransientSendError if request_never_sent(exc) else UncertainSendError
            raise error_class(f"{type(exc).__name__} talking to BuilderBot", code="network") from exc
        status = response.status_code
        if status in (200, 201):
            try:
                body = response.json()
            except ValueError:
                body = None
            return SendResult(provider_message_id=_message_id_from(body), status="sent", provider_status=str(status))
        detail = self._error_detail(response)
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if status in (408, 429):
            raise TransientSendError(detail, code=str(status), http_status=status, retry_after=retry_after)
        if status >= 500:
            raise UncertainSendError(detail, code=str(status), http_status=status, retry_after=retry_after)
        raise PermanentSendError(detail, code=str(status), http_status=status)

    @staticmethod
    def _error_detail(response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = None
        text = ""
        if isinstance(body, dict):
            text = str(body.get("message") or body.get("error") or body.get("detail") or "")
        if response.status_code in (401, 403):
            text = text or "BuilderBot refused the API key: check BUILDERBOT_API_KEY and BUILDERBOT_PROJECT_ID"
        return phones_mask(text or f"HTTP {response.status_code} from BuilderBot")[:500]
