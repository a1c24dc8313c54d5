"""API keys: issuing and revoking, each audited."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from audit.services import Actor, audit_log_record
from contactcenter.common.errors import ApplicationError

from .models import ApiKey
from .roles import API_KEY_ROLES


def _check_role(role: str) -> None:
    if role not in API_KEY_ROLES:
        raise ApplicationError(
            f"An API key's role must be one of: {', '.join(sorted(API_KEY_ROLES))}.", code="invalid_role", attr="role"
        )


def api_key_create(
    *, name: str, role: str, actor: Actor, expires_at: datetime | None = None, expires_days: int | None = None
) -> tuple[ApiKey, str]:
    """Issue a new key. Returns the stored row and the key itself, which is never stored and cannot be shown again."""
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise ApplicationError("Give the key a name of 1 to 50 characters.", code="invalid_name", attr="name")
    _check_role(role)
    if expires_days is not None:
        if expires_days < 1:
            raise ApplicationError("Expiry must be at least one day.", code="invalid_expiry", attr="expires_days")
        expires_at = timezone.now() + timedelta(days=expires_days)
    with transaction.atomic():
        api_key, key = ApiKey.objects.create_key(name=name, role=role, expiry_date=expires_at)
        audit_log_record(
            actor=actor,
            action="api_key.created",
            target_type="api_key",
            target_id=api_key.prefix,
            data={"name": name, "role": role, "expires_at": expires_at.isoformat() if expires_at else None},
        )
    return api_key, key


def api_key_assign(*, api_key: ApiKey, actor: Actor) -> str:
    """Give an unsaved key row (built by the admin form) its key, save it and audit it. Returns the key."""
    _check_role(api_key.role)
    with transaction.atomic():
        key = ApiKey.objects.assign_key(api_key)
        api_key.save()
        audit_log_record(
            actor=actor,
            action="api_key.created",
            target_type="api_key",
            target_id=api_key.prefix,
            data={"name": api_key.name, "role": api_key.role},
        )
    return key


def api_key_revoke(*, api_key_id: str, actor: Actor) -> bool:
    """Revoke a key for good. Returns False when it was revoked already."""
    with transaction.atomic():
        api_key = ApiKey.objects.select_for_update().get(pk=api_key_id)
        if api_key.revoked:
            return False
        ApiKey.objects.filter(pk=api_key.pk).update(revoked=True)
        audit_log_record(
            actor=actor,
            action="api_key.revoked",
            target_type="api_key",
            target_id=api_key.prefix,
            data={"name": api_key.name, "role": api_key.role},
        )
    return True
