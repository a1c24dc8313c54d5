from django.conf import settings

from audit.services import Actor


def client_ip(request) -> str | None:
    """The address the request came from (the first X-Forwarded-For hop only behind a trusted proxy)."""
    if settings.TRUST_PROXY_HEADERS:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def request_actor(request) -> Actor:
    return Actor.user(request.user)
