"""One service changes an interaction from the console: `interaction_update` assigns and moves the status in one
transaction, with their audit records; the API's PATCH and the admin's actions call it and nothing else."""

import pytest

import backoffice.admin.interactions as interactions_admin
import interactions.api.views as interaction_views
from audit.models import AuditLog
from contactcenter.common.actors import Actor
from contactcenter.common.domain import Conflict, InvalidInput
from interactions.services import interaction_update
from tests.api.helpers import fresh_throttles, role_client  # noqa: F401
from tests.backoffice.conftest import create_staff, login_verified
from tests.factories import InteractionFactory, OngoingInteractionFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

CHANGES = ["interaction.assigned", "interaction.status_changed"]


def _changes():
    return list(AuditLog.objects.filter(action__in=CHANGES).order_by("chain_seq").values_list("action", "data"))


def test_assign_and_status_change_happen_together_each_audited():
    supervisor, agent = UserFactory(roles=["supervisor"]), UserFactory(roles=["agent"])
    interaction = InteractionFactory()

    updated = interaction_update(
        interaction=interaction, actor=Actor.user(supervisor), assignee=agent, status="in_progress"
    )

    assert (updated.assigned_agent_id, updated.status) == (agent.pk, "in_progress")
    interaction.refresh_from_db()
    assert (interaction.assigned_agent_id, interaction.status) == (agent.pk, "in_progress")
    assert _changes() == [
        ("interaction.assigned", {"from_agent": None, "to_agent": agent.pk}),
        ("interaction.status_changed", {"from": "open", "to": "in_progress"}),
    ]


def test_a_refused_status_leaves_the_assignment_of_the_same_update_undone():
    agent = UserFactory(roles=["agent"])
    interaction = InteractionFactory(status="completed")

    with pytest.raises(Conflict) as refused:
        interaction_update(interaction=interaction, actor=Actor.system("test"), assignee=agent, status="open")

    assert refused.value.code == "invalid_transition"
    interaction.refresh_from_db()
    assert interaction.assigned_agent_id is None
    assert _changes() == []


def test_a_refused_assignee_leaves_the_status_of_the_same_update_unchanged():
    auditor = UserFactory(roles=["auditor"])
    interaction = InteractionFactory()

    with pytest.raises(InvalidInput) as refused:
        interaction_update(interaction=interaction, actor=Actor.system("test"), assignee=auditor, status="completed")

    assert (refused.value.code, refused.value.attr) == ("invalid_agent", "assigned_agent")
    interaction.refresh_from_db()
    assert (interaction.status, interaction.ended_at) == ("open", None)
    assert _changes() == []


def test_unassigning_is_an_update_and_leaving_the_assignee_out_is_not():
    agent = UserFactory(roles=["agent"])
    interaction = InteractionFactory(assigned_agent=agent)

    interaction_update(interaction=interaction, actor=Actor.system("test"), status="in_progress")
    interaction.refresh_from_db()
    assert interaction.assigned_agent_id == agent.pk

    interaction_update(interaction=interaction, actor=Actor.system("test"), assignee=None)
    interaction.refresh_from_db()
    assert interaction.assigned_agent_id is None
    assert _changes() == [
        ("interaction.status_changed", {"from": "open", "to": "in_progress"}),
        ("interaction.assigned", {"from_agent": agent.pk, "to_agent": None}),
    ]


def _spy(monkeypatch, target, name="interaction_update"):
    calls = []
    real = getattr(target, name)

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(target, name, spy)
    return calls


def test_the_api_patch_makes_one_call_to_the_service(monkeypatch):
    calls = _spy(monkeypatch, interaction_views)
    agent = UserFactory(roles=["agent"])
    interaction = InteractionFactory()

    response = role_client("supervisor").patch(
        f"/api/interactions/{interaction.pk}", {"assigned_agent": agent.pk, "status": "in_progress"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert len(calls) == 1
    assert (calls[0]["assignee"], calls[0]["status"]) == (agent, "in_progress")


def test_the_admin_actions_call_the_service(monkeypatch, client):
    calls = _spy(monkeypatch, interactions_admin)
    supervisor, agent = create_staff("sup", "supervisor"), create_staff("ag", "agent")
    interaction = OngoingInteractionFactory()
    login_verified(client, supervisor)
    url = "/admin/interactions/interaction/"
    selected = {"_selected_action": [str(interaction.pk)], "index": "0", "apply": "1"}

    client.post(url, {"action": "assign_to_agent", "agent": str(agent.pk), **selected})
    client.post(url, {"action": "change_status", "status": "in_progress", **selected})

    assert [(call.get("assignee"), call.get("status")) for call in calls] == [(agent, None), (None, "in_progress")]
    interaction.refresh_from_db()
    assert (interaction.assigned_agent_id, interaction.status) == (agent.pk, "in_progress")
