"""Console changes to an interaction: assigning an agent and moving its status (one service, `interaction_update`),
and recording unmasked reads.

A change locks the row, checks the rules, saves named fields and writes its audit records in the same transaction."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from audit.actions import AuditAction
from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from contactcenter.common.domain import Conflict, InvalidInput
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


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


# `assignee=UNCHANGED` (the default) leaves the assignment as it is; `assignee=None` unassigns.
UNCHANGED = _Unchanged()


def _assignable_check(user: User) -> None:
    """An interaction goes only to an active user in the agent or supervisor group."""
    assignable = (
        get_user_model()
        .objects.filter(pk=user.pk, is_active=True)
        .filter(groups__name__in=[str(role) for role in ASSIGNABLE_ROLES])
        .exists()
    )
    if not assignable:
        raise InvalidInput(
            "Interactions can be assigned only to active agents or supervisors.",
            code="invalid_agent",
            attr="assigned_agent",
        )


def _transition_check(current: str, status: str) -> None:
    if status == current:
        raise InvalidInput(f"The interaction is already {current}.", code="status_unchanged", attr="status")
    if status not in ALLOWED_STATUS_TRANSITIONS[current]:
        allowed = sorted(ALLOWED_STATUS_TRANSITIONS[current])
        detail = (
            f"A {current} interaction cannot change status."
            if not allowed
            else f"A {current} interaction can move only to: {', '.join(allowed)}."
        )
        # From a final status nothing moves: a conflict with the interaction's state, not a bad input.
        refusal = Conflict if current in FINAL_STATUSES else InvalidInput
        raise refusal(detail, code="invalid_transition", attr="status")


def interaction_update(
    *,
    interaction: Interaction,
    actor: Actor,
    assignee: User | _Unchanged | None = UNCHANGED,
    status: str | None = None,
    ip_address: str | None = None,
) -> Interaction:
    """Assign the interaction (`assignee`: an active agent or supervisor, or None to unassign) and/or move its status
    along ALLOWED_STATUS_TRANSITIONS, in one transaction: both changes or neither, each with its audit record.

    Refuses (InvalidInput) an assignee who is not an active agent or supervisor, an unknown status, the status it
    already has or a transition not allowed; Conflict when it is already in a final status. Reaching a final status
    sets `ended_at` if it was not set. An assignment to the agent it already has changes (and records) nothing."""
    target: User | None = None if isinstance(assignee, _Unchanged) else assignee
    assigning = not isinstance(assignee, _Unchanged)
    if target is not None:
        _assignable_check(target)
    if status is not None and status not in ALLOWED_STATUS_TRANSITIONS:
        raise InvalidInput(f"Unknown status {status!r}.", code="invalid_status", attr="status")
    changed: list[str] = []
    records: list[tuple[AuditAction, dict]] = []
    with transaction.atomic():
        locked = Interaction.objects.select_for_update().get(pk=interaction.pk)
        if assigning:
            previous, new = locked.assigned_agent_id, (target.pk if target is not None else None)
            if previous != new:
                locked.assigned_agent = target
                changed.append("assigned_agent")
                records.append((AuditAction.INTERACTION_ASSIGNED, {"from_agent": previous, "to_agent": new}))
        if status is not None:
            current = locked.status
            _transition_check(current, status)
            locked.status = status
            changed.append("status")
            if status in FINAL_STATUSES and locked.ended_at is None:
                locked.ended_at = timezone.now()
                changed.append("ended_at")
            records.append((AuditAction.INTERACTION_STATUS_CHANGED, {"from": current, "to": status}))
        if not changed:
            return interaction
        changed.append("updated_at")
        locked.save(update_fields=changed)
        # The audit records last: appending one holds the audit chain's lock until commit.
        for action, data in records:
            audit_log_record(
                actor=actor,
                action=action,
                target_type="interaction",
                target_id=locked.pk,
                data=data,
                ip_address=ip_address,
            )
    for field in changed:
        setattr(interaction, field, getattr(locked, field))
    return interaction


def interactions_pii_list_reveal(
    *, interaction_ids: list, actor: Actor, reason: str, ip_address: str | None = None
) -> None:
    """Record that `actor` was shown a page of interactions with unmasked phone numbers (one record per page)."""
    audit_log_record(
        actor=actor,
        action=AuditAction.INTERACTION_PII_LISTED,
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
        action=AuditAction.INTERACTION_PII_VIEWED,
        target_type="interaction",
        target_id=interaction.pk,
        data={"reason": phones_mask(reason)[:200]},
        ip_address=ip_address,
    )
