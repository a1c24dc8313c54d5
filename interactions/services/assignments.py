"""Console changes to an interaction: assigning an agent, moving its status, and recording unmasked reads.

Each change locks the row, checks the rule, saves named fields and writes its audit record in the same transaction."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from audit.services import Actor, audit_log_record
from contactcenter.common.errors import ApplicationError
from contactcenter.common.masking import phones_mask
from contactcenter.common.roles import Role

from ..models import Interaction, InteractionStatus

S = InteractionStatus
# Where a status may move. The final statuses (completed, failed, abandoned) move nowhere.
ALLOWED_STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    S.OPEN: frozenset({S.IN_PROGRESS, S.COMPLETED, S.FAILED, S.ABANDONED}),
    S.IN_PROGRESS: frozenset({S.OPEN, S.COMPLETED, S.FAILED, S.ABANDONED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.ABANDONED: frozenset(),
}
FINAL_STATUSES = frozenset(status for status, targets in ALLOWED_STATUS_TRANSITIONS.items() if not targets)
ASSIGNABLE_ROLES = (Role.AGENT, Role.SUPERVISOR)


def _locked(interaction: Interaction) -> Interaction:
    return Interaction.objects.select_for_update().get(pk=interaction.pk)


def _refresh_from(target: Interaction, source: Interaction, fields: list[str]) -> None:
    for field in fields:
        setattr(target, field, getattr(source, field))


def interaction_assign(
    *, interaction: Interaction, agent: User | None, actor: Actor, ip_address: str | None = None
) -> Interaction:
    """Assign the interaction to `agent` (an active user in the agent or supervisor group), or unassign it (None)."""
    if agent is not None:
        user_model = get_user_model()
        assignable = (
            user_model.objects.filter(pk=agent.pk, is_active=True)
            .filter(groups__name__in=[str(role) for role in ASSIGNABLE_ROLES])
            .exists()
        )
        if not assignable:
            raise ApplicationError(
                "Interactions can be assigned only to active agents or supervisors.",
                code="invalid_agent",
                attr="assigned_agent",
            )
    with transaction.atomic():
        locked = _locked(interaction)
        previous = locked.assigned_agent_id
        new = agent.pk if agent is not None else None
        if previous == new:
            return locked
        locked.assigned_agent = agent
        locked.save(update_fields=["assigned_agent", "updated_at"])
        audit_log_record(
            actor=actor,
            action="interaction.assigned",
            target_type="interaction",
            target_id=locked.pk,
            data={"from_agent": previous, "to_agent": new},
            ip_address=ip_address,
        )
    _refresh_from(interaction, locked, ["assigned_agent", "updated_at"])
    return interaction


def interaction_status_change(
    *, interaction: Interaction, status: str, actor: Actor, ip_address: str | None = None
) -> Interaction:
    """Move the interaction to `status` along ALLOWED_STATUS_TRANSITIONS; anything else is refused (400, or 409 when
    the interaction is already final). Reaching a final status sets `ended_at` if it was not set."""
    if status not in ALLOWED_STATUS_TRANSITIONS:
        raise ApplicationError(f"Unknown status {status!r}.", code="invalid_status", attr="status")
    with transaction.atomic():
        locked = _locked(interaction)
        current = locked.status
        if status == current:
            raise ApplicationError(f"The interaction is already {current}.", code="status_unchanged", attr="status")
        if status not in ALLOWED_STATUS_TRANSITIONS[current]:
            allowed = sorted(ALLOWED_STATUS_TRANSITIONS[current])
            detail = (
                f"A {current} interaction cannot change status."
                if not allowed
                else f"A {current} interaction can move only to: {', '.join(allowed)}."
            )
            raise ApplicationError(
                detail,
                code="invalid_transition",
                attr="status",
                status=409 if current in FINAL_STATUSES else 400,
            )
        locked.status = status
        fields = ["status", "updated_at"]
        if status in FINAL_STATUSES and locked.ended_at is None:
            locked.ended_at = timezone.now()
            fields.append("ended_at")
        locked.save(update_fields=fields)
        audit_log_record(
            actor=actor,
            action="interaction.status_changed",
            target_type="interaction",
            target_id=locked.pk,
            data={"from": current, "to": status},
            ip_address=ip_address,
        )
    _refresh_from(interaction, locked, fields)
    return interaction


def interactions_pii_list_reveal(
    *, interaction_ids: list, actor: Actor, reason: str, ip_address: str | None = None
) -> None:
    """Record that `actor` was shown a page of interactions with unmasked phone numbers (one record per page)."""
    audit_log_record(
        actor=actor,
        action="interaction.pii_listed",
        target_type="interaction",
        data={"reason": reason[:200], "ids": [str(pk) for pk in interaction_ids]},
        ip_address=ip_address,
    )


def interaction_pii_reveal(
    *, interaction: Interaction, actor: Actor, reason: str, ip_address: str | None = None
) -> None:
    """Record that `actor` read this interaction's unmasked data (phone numbers), and why."""
    audit_log_record(
        actor=actor,
        action="interaction.pii_viewed",
        target_type="interaction",
        target_id=interaction.pk,
        data={"reason": phones_mask(reason)[:200]},
        ip_address=ip_address,
    )
