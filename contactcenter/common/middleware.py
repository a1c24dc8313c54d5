import logging
import re
import time
from urllib.parse import parse_qsl, quote

from .context import client_ip_var, new_request_id, request_client_ip, request_id_var
from .masking import phones_mask

logger = logging.getLogger("contactcenter.request")

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Query parameters whose values are never logged.
_QUERY_SECRET_NAME_RE = re.compile(
    r"(?i)(token|secret|signature|passw|otp|pin|auth|session|cookie|credential)|(^|[_\-.])(key|code|sig)($|[_\-.])|^(key|code)"
)
# Kept as they are in a logged query value, for a readable line (`phone=+52*******5678`).
_QUERY_SAFE_CHARS = "*+:@/,[]"


def redact_query_string(query: str) -> str:
    """The query string as a log line shows it: each value decoded (`%2B52…` is `+52…`, `%EF%BC%95` is `５`), then
    redacted when its name is a secret's, or with the phone numbers in it masked (by its name too: `phone=`)."""
    parts = []
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        shown = "[REDACTED]" if _QUERY_SECRET_NAME_RE.search(name) else phones_mask(value, key=name)
        parts.append(f"{quote(phones_mask(name), safe=_QUERY_SAFE_CHARS)}={quote(shown, safe=_QUERY_SAFE_CHARS)}")
    return "&".join(parts)


class RequestIdMiddleware:
    """Takes `X-Request-ID` (when it is a sane token) or makes one, and returns it on the response; sets the request
    context (request id, client address) that log records and audit records read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else new_request_id()
        request.request_id = request_id
        token = request_id_var.set(request_id)
        ip_token = client_ip_var.set(request_client_ip(request))
        try:
            response = self.get_response(request)
        finally:
            client_ip_var.reset(ip_token)
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestLogMiddleware:
    """One JSON line per request: method, path, status, duration and the request id. Tokens in the query are
    redacted and phone numbers in the path and the query masked, whatever their spelling (see redact_query_string)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        level = logging.ERROR if response.status_code >= 500 else logging.INFO
        if not logger.isEnabledFor(level):
            return response
        query = request.META.get("QUERY_STRING", "")
        path = phones_mask(request.path) + ("?" + redact_query_string(query) if query else "")
        logger.log(
            level,
            "request",
            extra={
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "request_id": getattr(request, "request_id", None),
            },
        )
        return response
