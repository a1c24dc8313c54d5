"""The one way to write an audit record. Call it inside the transaction of the change it records."""

from dataclasses import dataclass

from contactcenter.common.context import current_client_ip, current_request_id, ip_normalize

from .models import AuditLog


@dataclass(frozen=True)
class Actor:
    """Who acted: a staff user, an API client, a provider (webhook) or the system (tasks, commands)."""

    type: str
    id: str = ""
    label: str = ""

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(type=AuditLog.ActorType.SYSTEM, label=label)

    @classmethod
    def provider(cls, name: str) -> "Actor":
        return cls(type=AuditLog.ActorType.PROVIDER, id=name, label=name)

    @classmethod
    def user(cls, user) -> "Actor":
        return cls(type=AuditLog.ActorType.USER, id=str(user.pk), label=user.get_username())

    @classmethod
    def api_client(cls, key_id: str, name: str) -> "Actor":
        return cls(type=AuditLog.ActorType.API_CLIENT, id=str(key_id), label=name)


def audit_log_record(
    *,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: object = "",
    data: dict | None = None,
    ip_address: str | None = None,
) -> AuditLog:
    """Append one audit record. `data` must hold no secret, code or unmasked phone number. Made while serving a
    request, the record carries the request's id and client address unless `ip_address` is given."""
    return AuditLog.objects.create(
        actor_type=actor.type,
        actor_id=str(actor.id)[:64],
        actor_label=str(actor.label)[:150],
        action=action,
        target_type=target_type,
        target_id=str(target_id or "")[:64],
        data=data or {},
        ip_address=ip_normalize(ip_address) or current_client_ip(),
        request_id=current_request_id() or "",
    )
