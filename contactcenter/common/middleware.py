import logging
import re
import time

from .context import client_ip_var, new_request_id, request_client_ip, request_id_var

logger = logging.getLogger("contactcenter.request")

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_QUERY_SECRET_RE = re.compile(r"(?i)((?:^|&)(?:token|key|secret|signature|code)=)[^&]*")


def redact_query_string(query: str) -> str:
    return _QUERY_SECRET_RE.sub(lambda m: m.group(1) + "[REDACTED]", query)


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
    """One JSON line per request: method, path, status, duration and the request id (tokens in queries redacted)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        query = request.META.get("QUERY_STRING", "")
        path = request.path + ("?" + redact_query_string(query) if query else "")
        level = logging.ERROR if response.status_code >= 500 else logging.INFO
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
