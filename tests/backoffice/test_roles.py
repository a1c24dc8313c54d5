"""Roles: agents see their own interactions only; auditors change nothing; nobody edits audit or provider data."""

import pytest

from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from tests.factories import MessageFactory, OngoingInteractionFactory
from webhooks.models import InteractionEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

URL = "/admin/interactions/interaction/"


def test_an_agent_sees_only_assigned_interactions(staff_client, make_staff):
    me, other = make_staff("me", "agent"), make_staff("other", "agent")
    mine = OngoingInteractionFactory(assigned_agent=me)
    theirs = OngoingInteractionFactory(assigned_agent=other)
    unassigned = OngoingInteractionFactory(assigned_agent=None)
    client = staff_client(me)
    listed = list(client.get(URL).context["cl"].result_list)
    assert listed == [mine]
    assert client.get(f"{URL}{mine.pk}/change/").status_code == 200
    for hidden in (theirs, unassigned):
        response = client.get(f"{URL}{hidden.pk}/change/")
        assert response.status_code == 302  # "does not exist", back to the list
    MessageFactory(interaction=theirs)
    assert list(client.get("/admin/interactions/message/").context["cl"].result_list) == []
    assert client.get("/admin/audit/auditlog/").status_code == 403
    assert client.get("/admin/dashboard/").status_code == 403


def test_an_auditor_reads_everything_and_changes_nothing(staff_client, make_staff):
    auditor = make_staff("aud", "auditor")
    interaction = OngoingInteractionFactory()
    client = staff_client(auditor)
    response = client.get(URL)
    assert response.status_code == 200
    assert set(response.context["cl"].model_admin.get_actions(response.wsgi_request)) <= {"export_csv"}
    page = client.get(f"{URL}{interaction.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert client.post(f"{URL}{interaction.pk}/change/", {"status": "completed"}).status_code == 403
    response = client.post(
        URL, {"action": "change_status", "_selected_action": [str(interaction.pk)], "status": "completed", "apply": "1"}
    )
    interaction.refresh_from_db()
    assert interaction.status == "open"
    assert client.get("/admin/audit/auditlog/").status_code == 200
    assert client.get("/admin/dashboard/").status_code == 200


def test_nobody_edits_or_deletes_audit_or_provider_data(staff_client, make_staff):
    root = make_staff("root", superuser=True)
    record = audit_log_record(actor=Actor.system(), action="test.action", target_type="x", target_id="1")
    event = InteractionEvent.objects.create(provider="twilio", idempotency_key="k", payload={"a": 1})
    client = staff_client(root)
    for base, pk in (("/admin/audit/auditlog/", record.pk), ("/admin/webhooks/interactionevent/", event.pk)):
        page = client.get(f"{base}{pk}/change/")
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert client.post(f"{base}{pk}/change/", {"action": "changed"}).status_code == 403
        assert client.post(f"{base}{pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/audit/auditlog/add/").status_code == 403
