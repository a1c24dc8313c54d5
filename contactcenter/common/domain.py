"""What a service raises when a business rule refuses: a domain error of one kind, with a machine `code`, a `detail`
for people and, when one input field is at fault, its name (`attr`).

No HTTP here. The API maps each kind to its status once (contactcenter/common/errors.py); every other caller (the
admin, the commands, the voice agent's tools, the webhook applier) reads the kind and the code and answers in its
own way. Callers that do not care which kind catch `DomainError`."""

import math


class DomainError(Exception):
    """A business rule refused. Raise one of the kinds below."""

    default_code = "invalid"

    def __init__(self, detail: str, *, code: str | None = None, attr: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.attr = attr


class InvalidInput(DomainError):
    """The input breaks a rule: a malformed phone number, an unknown status, an agent who cannot be assigned."""

    default_code = "invalid"


class NotAuthenticated(DomainError):
    """The credentials (a password, a second-factor code, a token) were refused."""

    default_code = "authentication_failed"


class PermissionDenied(DomainError):
    """The actor may not do this."""

    default_code = "permission_denied"


class NotFound(DomainError):
    """The thing acted on does not exist (or does not exist for this actor)."""

    default_code = "not_found"


class Conflict(DomainError):
    """The thing's present state refuses the change: a final status, a message already resent, a challenge no
    longer pending."""

    default_code = "conflict"


class IdempotencyKeyReused(DomainError):
    """An idempotency key came back with a request other than the one it was first used with."""

    default_code = "idempotency_key_reused"


class LimitReached(DomainError):
    """A rate or count limit: the same request may succeed after `retry_after` seconds (rounded up, at least 1)."""

    default_code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: float, code: str | None = None, attr: str | None = None):
        super().__init__(detail, code=code, attr=attr)
        self.retry_after = max(1, math.ceil(retry_after))


class TooLarge(DomainError):
    """The input is larger than accepted."""

    default_code = "too_large"


class ProviderFailed(DomainError):
    """A provider we depend on answered with an error, or could not be reached."""

    default_code = "provider_unavailable"


class Unavailable(DomainError):
    """We cannot do this right now (a provider not configured, the database out of reach); with `retry_after`,
    when to try again."""

    default_code = "service_unavailable"

    def __init__(self, detail: str, *, code: str | None = None, retry_after: int | None = None):
        super().__init__(detail, code=code)
        self.retry_after = retry_after
