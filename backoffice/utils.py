from audit.services import Actor
from contactcenter.common.context import request_client_ip


def client_ip(request) -> str | None:
    """The address the request came from (contactcenter.common.context decides, from TRUSTED_PROXY_COUNT)."""
    return request_client_ip(request)


def request_actor(request) -> Actor:
    return Actor.user(request.user)
