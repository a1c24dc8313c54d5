"""How HTTP answers an error: one error shape for every 4xx/5xx under /api/ and /webhooks/:

    {"type": "client_error" | "validation_error" | "server_error",
     "errors": [{"code": "...", "detail": "...", "attr": null | "field"}]}

Services raise domain errors (contactcenter/common/domain.py), which know nothing of HTTP; `HTTP_STATUS_BY_KIND`
below is the one place a kind becomes a status (and `http_headers_for` its headers, Retry-After). DRF views get the
shape from drf-standardized-errors (with the domain errors mapped in); plain Django views and the 404/500 handlers
build it with `error_response`.
"""

import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework.exceptions import APIException

from . import domain

# The HTTP status of each kind of domain error; a subclass takes its nearest listed ancestor's.
HTTP_STATUS_BY_KIND: dict[type[domain.DomainError], int] = {
    domain.InvalidInput: 400,
    domain.NotAuthenticated: 401,
    domain.PermissionDenied: 403,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.TooLarge: 413,
    domain.IdempotencyKeyReused: 422,
    domain.LimitReached: 429,
    domain.ProviderFailed: 502,
    domain.Unavailable: 503,
    domain.DomainError: 400,
}


def http_status_for(error: domain.DomainError) -> int:
    for kind in type(error).__mro__:
        if kind in HTTP_STATUS_BY_KIND:
            return HTTP_STATUS_BY_KIND[kind]
    raise TypeError(f"not a domain error: {error!r}")


def http_headers_for(error: domain.DomainError) -> dict[str, str]:
    """Retry-After (whole seconds) when the error says when to try again."""
    retry_after = getattr(error, "retry_after", None)
    return {"Retry-After": str(int(retry_after))} if retry_after is not None else {}


# What a request gets while the database cannot be reached (or refused the work for a transient reason: a restart, a
# failover, a deadlock): 503 with Retry-After, so providers and clients retry instead of treating it as a bug.
DATABASE_ERRORS = (OperationalError, InterfaceError)
DATABASE_RETRY_AFTER_SECONDS = 5
# SQLSTATEs a retry clears, besides class 08 (connection exceptions): the server shutting down, crashing or starting
# (57P01-57P03), too many connections, a serialization failure, a deadlock. A statement timeout, a value too large or
# a full disk is not among them: retrying would fail the same way, and it must show as the 500 it is.
_TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "40001", "40P01"})

logger = logging.getLogger("contactcenter.errors")


def database_error_is_transient(exc: BaseException) -> bool:
    """True when `exc` says PostgreSQL was briefly out of reach or refused the work for a reason a retry clears."""
    if not isinstance(exc, DATABASE_ERRORS):
        return False
    cause = exc.__cause__
    if cause is None or not type(cause).__module__.startswith("psycopg"):
        return False  # not PostgreSQL's driver (SQLite's "no such table" is a bug, not an outage)
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is None:
        return True  # no answer from the server at all: connection refused, closed or timed out
    return sqlstate.startswith("08") or sqlstate in _TRANSIENT_SQLSTATES


def database_unavailable_error() -> domain.Unavailable:
    return domain.Unavailable(
        "The service is briefly unavailable; retry shortly.",
        code="service_unavailable",
        retry_after=DATABASE_RETRY_AFTER_SECONDS,
    )


def error_type_for(status: int) -> str:
    return "server_error" if status >= 500 else "client_error"


def error_body(status: int, code: str, detail: str, attr: str | None = None, error_type: str | None = None) -> dict:
    return {"type": error_type or error_type_for(status), "errors": [{"code": code, "detail": detail, "attr": attr}]}


def error_response(
    status: int,
    code: str,
    detail: str,
    attr: str | None = None,
    headers: dict | None = None,
    error_type: str | None = None,
) -> JsonResponse:
    response = JsonResponse(error_body(status, code, detail, attr, error_type), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class _DomainAPIException(APIException):
    def __init__(self, exc: domain.DomainError):
        super().__init__(detail=exc.detail, code=exc.code)
        self.status_code = http_status_for(exc)
        self.attr = exc.attr


def request_refused_error(exc: BaseException) -> domain.DomainError | None:
    """What Django raises while reading a request it will not take (too many query or form fields, a body over the
    limit, anything else it finds suspicious) as the client error it is; None for other exceptions."""
    if isinstance(exc, TooManyFieldsSent):
        return domain.InvalidInput("More query or form fields than accepted.", code="too_many_fields")
    if isinstance(exc, RequestDataTooBig):
        return domain.TooLarge("The body is larger than accepted.", code="payload_too_large")
    if isinstance(exc, SuspiciousOperation):
        return domain.InvalidInput("Bad request.", code="bad_request")
    return None


class ContactCenterExceptionHandler(ExceptionHandler):
    def convert_known_exceptions(self, exc):
        if isinstance(exc, domain.DomainError):
            return _DomainAPIException(exc)
        refused = request_refused_error(exc)
        if refused is not None:
            return _DomainAPIException(refused)
        return super().convert_known_exceptions(exc)

    def format_exception(self, exc):
        data = super().format_exception(exc)
        attr = getattr(exc, "attr", None)
        if attr and data.get("errors"):
            for error in data["errors"]:
                error["attr"] = error.get("attr") or attr
        return data

    def get_response(self, exc, data):
        response = super().get_response(exc, data)
        original = getattr(self, "_original_exc", None)
        if isinstance(original, domain.DomainError):
            for name, value in http_headers_for(original).items():
                response[name] = value
        return response

    def run(self):
        if database_error_is_transient(self.exc):
            logger.error("database_unavailable", exc_info=self.exc)
            self.exc = database_unavailable_error()
        self._original_exc = self.exc
        return super().run()


def exception_handler(exc, context):
    return ContactCenterExceptionHandler(exc, context).run()


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/webhooks/"))


def json_or_default_404(request, exception=None):
    if _wants_json(request):
        return error_response(404, "not_found", "Not found.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def api_path_not_found(request, *args, **kwargs):
    """The last route under /api/ and /webhooks/: an unknown path there answers the JSON error shape, in DEBUG too
    (where Django's debug page would stand in for handler404)."""
    return error_response(404, "not_found", "Not found.")


def json_or_default_500(request):
    if _wants_json(request):
        return error_response(500, "error", "A server error occurred.")
    from django.views.defaults import server_error

    return server_error(request)


def json_or_default_400(request, exception=None):
    if _wants_json(request):
        return error_response(400, "bad_request", "Bad request.")
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def json_or_default_403(request, exception=None):
    if _wants_json(request):
        return error_response(403, "permission_denied", "You do not have permission to perform this action.")
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)


class DatabaseUnavailableMiddleware:
    """The same 503 for views outside the REST framework (the admin, plain Django views) when the database fails."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not database_error_is_transient(exception):
            return None
        # Answering here skips Django's own report of the exception: log it, so an outage still shows.
        logger.error("database_unavailable", exc_info=exception)
        error = database_unavailable_error()
        status, headers = http_status_for(error), http_headers_for(error)
        if _wants_json(request):
            return error_response(status, error.code, error.detail, headers=headers)
        response = HttpResponse(error.detail, status=status, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = headers["Retry-After"]
        return response
