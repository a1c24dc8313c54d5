"""Who acted, as the audit log records it: a staff user, an API client, a provider (webhook) or the system (tasks,
commands). A value every layer passes down to the services; `request_actor` makes the one of a request."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.http import HttpRequest
    from rest_framework.request import Request


class ActorType(models.TextChoices):
    USER = "user", _("User")
    API_CLIENT = "api_client", _("API client")
    PROVIDER = "provider", _("Provider")
    SYSTEM = "system", _("System")


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""
    label: str = ""

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(type=ActorType.SYSTEM, label=label)

    @classmethod
    def provider(cls, name: str) -> "Actor":
        return cls(type=ActorType.PROVIDER, id=name, label=name)

    @classmethod
    def user(cls, user: Any) -> "Actor":  # a user, or the request's principal (anything with pk and get_username)
        return cls(type=ActorType.USER, id=str(user.pk), label=user.get_username())

    @classmethod
    def api_client(cls, key_id: str, name: str) -> "Actor":
        return cls(type=ActorType.API_CLIENT, id=str(key_id), label=name)


def request_actor(request: "HttpRequest | Request") -> Actor:
    """The audit actor of a request: its API key (the principal `accounts.authentication.ApiClient` puts on
    `request.user`, which carries `api_key`), else its user."""
    user = request.user
    api_key = getattr(user, "api_key", None)
    if api_key is not None:
        return Actor.api_client(api_key.prefix, api_key.name)
    return Actor.user(user)


def request_client_id(request: "HttpRequest | Request") -> str:
    """The identity that owns what a caller creates (OTP challenges) and keys its limits: the API key, else the user."""
    api_key = getattr(request.user, "api_key", None)
    if api_key is not None:
        return f"api_key:{api_key.prefix}"
    return f"user:{request.user.pk}"
