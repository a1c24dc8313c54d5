"""The context of the work in progress, shared by web requests, Celery tasks and log records: the request id and the
client's address.

`request_client_ip` is the one place that decides who the client is. `X-Forwarded-For` is believed only as far as
`TRUSTED_PROXY_COUNT` proxies in front of us append to it: with N trusted proxies the client is the N-th address from
the right (each proxy appends the address it received the request from; anything further left was written by the
client and may be forged). With none (the default), the TCP peer (`REMOTE_ADDR`) is the client and the header is
ignored. Throttles, security logs, audit records, stored webhook events and the login lockout all read it from here.
"""

import contextvars
import ipaddress
import uuid
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest
    from rest_framework.request import Request

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
client_ip_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_ip", default=None)

_CLIENT_IP_META_KEY = "contactcenter.client_ip"


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return request_id_var.get()


def current_client_ip() -> str | None:
    """The client address of the request being served (None outside a request: tasks, commands)."""
    return client_ip_var.get()


def ip_normalize(value: object) -> str | None:
    """A valid IPv4/IPv6 address in its canonical spelling, or None. Accepts `1.2.3.4:5678` and `[::1]:80` (some
    proxies append the port)."""
    text = str(value or "").strip()
    if not text:
        return None
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def request_client_ip(request: "HttpRequest | Request") -> str | None:
    """The client's address for this request (see the module's docstring). Works on a Django HttpRequest and on a
    DRF Request (which exposes the same META); computed once per request."""
    meta = request.META
    if _CLIENT_IP_META_KEY in meta:
        return meta[_CLIENT_IP_META_KEY]
    remote = ip_normalize(meta.get("REMOTE_ADDR"))
    client = remote
    trusted = max(int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0), 0)
    if trusted:
        hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        # Fewer hops than trusted proxies: the request did not come through all of them, so nothing in the header
        # can be trusted; the TCP peer is the best we know.
        if len(hops) >= trusted:
            client = ip_normalize(hops[-trusted]) or remote
    meta[_CLIENT_IP_META_KEY] = client
    return client
