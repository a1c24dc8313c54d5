"""Admin actions call the services (which write the audit records); the CSV export is masked and audited."""

import csv
import io

import pytest

import backoffice.admin.interactions as interactions_admin
from audit.models import AuditLog
from contactcenter.common.pii import phone_mask
from interactions.models import Message
from tests.factories import MessageFactory, OngoingInteractionFactory
from webhooks.models import InteractionEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

URL = "/admin/interactions/interaction/"


def act(client, action, objs, **data):
    return client.post(URL, {"action": action, "_selected_action": [str(o.pk) for o in objs], "index": "0", **data})


@pytest.fixture
def supervisor(make_staff):
    return make_staff("sup", "supervisor")


def test_assign_asks_for_the_agent_then_calls_the_service(staff_client, supervisor, make_staff):
    agent = make_staff("ag", "agent")
    interactions = [OngoingInteractionFactory(), OngoingInteractionFactory()]
    client = staff_client(supervisor)
    form = act(client, "assign_to_agent", interactions)
    assert form.status_code == 200 and b'name="agent"' in form.content
    response = act(client, "assign_to_agent", interactions, agent=str(agent.pk), apply="1")
    assert response.status_code == 302
    for interaction in interactions:
        interaction.refresh_from_db()
        assert interaction.assigned_agent == agent
    records = AuditLog.objects.filter(action="interaction.assigned")
    assert records.count() == 2
    assert {r.actor_id for r in records} == {str(supervisor.pk)}


def test_change_status_follows_the_allowed_transitions(staff_client, supervisor):
    open_one = OngoingInteractionFactory(status="open")
    done = OngoingInteractionFactory(status="completed")
    client = staff_client(supervisor)
    response = act(client, "change_status", [open_one, done], status="in_progress", apply="1")
    assert response.status_code == 302
    open_one.refresh_from_db()
    done.refresh_from_db()
    assert (open_one.status, done.status) == ("in_progress", "completed")
    assert AuditLog.objects.filter(action="interaction.status_changed", target_id=str(open_one.pk)).count() == 1
    messages = [m.message for m in client.get(URL).context["messages"]]
    assert any("1 refused" in m for m in messages)


def test_export_is_masked_without_view_pii_and_audited(staff_client, make_staff):
    auditor = make_staff("aud", "auditor")
    interaction = OngoingInteractionFactory(customer_phone="+5215512344321")
    response = act(staff_client(auditor), "export_csv", [interaction])
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][4] == "customer_phone"
    # A cell starting with `+` is prefixed with `'` (CSV-injection rule, tests/security/test_personal_data.py).
    interaction.refresh_from_db()
    assert rows[1][4] == "'" + phone_mask(interaction.customer_phone)
    record = AuditLog.objects.get(action="interactions.exported")
    assert record.data["count"] == 1 and record.data["phones"] == "masked"
    assert record.data["ids"] == [str(interaction.pk)] and "reason" not in record.data


def test_export_is_clear_for_view_pii_once_a_reason_is_given(staff_client, supervisor):
    interaction = OngoingInteractionFactory(customer_phone="+5215512344321")
    client = staff_client(supervisor)
    assert b'name="reason"' in act(client, "export_csv", [interaction]).content
    response = act(client, "export_csv", [interaction], reason="Regulator request R-17", apply="1")
    body = b"".join(response.streaming_content).decode()
    interaction.refresh_from_db()
    assert "'" + interaction.customer_phone in body
    record = AuditLog.objects.get(action="interactions.exported")
    assert record.data["phones"] == "clear" and record.data["reason"] == "Regulator request R-17"


def test_resend_and_reconcile_pick_the_right_sms(staff_client, supervisor, monkeypatch):
    interaction = OngoingInteractionFactory(channel="sms")
    failed = MessageFactory(interaction=interaction, status="failed")
    sent = MessageFactory(interaction=interaction, status="sent", provider_message_id="SM9")
    resent, reconciled = [], []
    monkeypatch.setattr(
        interactions_admin,
        "message_resend",
        lambda *, message_id, actor: resent.append((message_id, actor.id)),
        raising=False,
    )
    monkeypatch.setattr(
        interactions_admin,
        "message_reconcile",
        lambda *, message_id: reconciled.append(message_id) or True,
        raising=False,
    )
    client = staff_client(supervisor)
    act(client, "resend_failed_sms", [interaction])
    act(client, "reconcile_sms", [interaction])
    assert resent == [(failed.pk, str(supervisor.pk))]
    assert reconciled == [sent.pk]


def test_replay_sends_the_failed_events_to_the_service(staff_client, supervisor, monkeypatch):
    interaction = OngoingInteractionFactory()
    failed = InteractionEvent.objects.create(
        provider="elevenlabs", idempotency_key="a", status="failed", interaction=interaction
    )
    InteractionEvent.objects.create(
        provider="elevenlabs", idempotency_key="b", status="processed", interaction=interaction
    )
    replayed = []
    monkeypatch.setattr(
        interactions_admin, "webhook_event_replay", lambda *, event_id, actor: replayed.append(event_id) or "processed"
    )
    act(staff_client(supervisor), "replay_failed_events", [interaction])
    assert replayed == [failed.pk]


def test_agents_do_not_get_the_supervisor_actions(staff_client, make_staff):
    agent = make_staff("ag", "agent")
    OngoingInteractionFactory(assigned_agent=agent)
    response = staff_client(agent).get(URL)
    actions = set(response.context["cl"].model_admin.get_actions(response.wsgi_request))
    assert actions == {"change_status", "export_csv"}


def test_resend_through_the_real_service_queues_a_new_sms_and_refuses_codes(staff_client, supervisor):
    interaction = OngoingInteractionFactory(channel="sms")
    plain = MessageFactory(interaction=interaction, status="undelivered", body="Your card was blocked")
    code = MessageFactory(interaction=interaction, status="failed", body="123456", is_sensitive=True)
    client = staff_client(supervisor)
    act(client, "resend_failed_sms", [interaction])
    assert AuditLog.objects.filter(action="message.resent", target_id=str(plain.pk)).count() == 1
    assert not AuditLog.objects.filter(action="message.resent", target_id=str(code.pk)).exists()
    assert Message.objects.filter(interaction=interaction, body="Your card was blocked").count() == 2
    messages = [m.message for m in client.get(URL).context["messages"]]
    assert any("1 message(s) queued again, 1 refused" in m for m in messages)
