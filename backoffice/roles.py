"""The back office's roles. Groups (created by the accounts app's migration) decide what a staff user sees and does:

- `supervisor`: every interaction, every action, the dashboard;
- `agent`: only the interactions assigned to them;
- `auditor`: reads everything, the audit log included, and changes nothing.

Superusers act as supervisors. A user in several groups gets the widest role that is not narrowed: a supervisor who is
also in `agent` sees everything; an auditor never changes anything, whatever else they are.
"""

from .auth import user_group_names

SUPERVISOR = "supervisor"
AGENT = "agent"
AUDITOR = "auditor"
INTEGRATION = "integration"


def is_supervisor(user) -> bool:
    return bool(user.is_active and (user.is_superuser or SUPERVISOR in user_group_names(user)))


def is_auditor(user) -> bool:
    """Read-only: an auditor who is not a superuser may change nothing in the admin."""
    return bool(user.is_active and not user.is_superuser and AUDITOR in user_group_names(user))


def sees_only_assigned(user) -> bool:
    """Agents see the interactions assigned to them, nothing else."""
    if not user.is_active or user.is_superuser:
        return False
    groups = user_group_names(user)
    return AGENT in groups and SUPERVISOR not in groups and AUDITOR not in groups
