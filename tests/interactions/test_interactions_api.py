"""GET/PATCH /api/interactions: roles, masking, filters, keyset pagination, detail, changes and their audit."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditLog
from interactions.models import CallDetail, Message
from tests.api.helpers import (
    fresh_throttles,  # noqa: F401  (autouse fixture: each test starts with empty throttles)
    key_client,
    role_client,
    user_client,
)
from tests.factories import InteractionFactory, UserFactory
from webhooks.models import InteractionEvent

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

PHONE = "+525512345678"  # canonical (stored and shown so, whatever spelling came in)
MASKED = "+52******5678"


def _ids(response):
    return [row["id"] for row in response.json()["results"]]


# --- Roles -----------------------------------------------------------------------------------------------------------


def test_list_without_credentials_is_401_in_the_standard_shape():
    response = role_client(None).get("/api/interactions")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {
        "type": "client_error",
        "errors": [
            {
                "code": "not_authenticated",
                "detail": "Authentication credentials were not provided.",
                "attr": None,
            }
        ],
    }


def test_a_user_without_a_role_is_403_in_the_standard_shape():
    response = user_client(UserFactory()).get("/api/interactions")
    assert response.status_code == 403
    body = response.json()
    assert body["type"] == "client_error"
    assert body["errors"][0]["code"] == "permission_denied"


def test_agents_see_only_the_interactions_assigned_to_them():
    agent = UserFactory(roles=["agent"])
    mine = InteractionFactory(assigned_agent=agent)
    theirs = InteractionFactory(assigned_agent=UserFactory(roles=["agent"]))
    InteractionFactory()
    client = user_client(agent)
    assert _ids(client.get("/api/interactions")) == [str(mine.pk)]
    assert client.get(f"/api/interactions/{mine.pk}").status_code == 200
    assert client.get(f"/api/interactions/{theirs.pk}").status_code == 404


def test_agents_may_not_assign():
    agent = UserFactory(roles=["agent"])
    interaction = InteractionFactory(assigned_agent=agent)
    response = user_client(agent).patch(
        f"/api/interactions/{interaction.pk}", {"assigned_agent": UserFactory(roles=["agent"]).pk}, format="json"
    )
    assert response.status_code == 403


# --- PII -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"), [("supervisor", PHONE), ("agent", MASKED), ("auditor", MASKED), ("integration", MASKED)]
)
def test_phones_are_masked_unless_the_caller_may_see_pii(role, expected):
    agent = UserFactory(roles=["agent"])
    interaction = InteractionFactory(assigned_agent=agent)
    Message.objects.create(
        interaction=interaction, channel="sms", direction="outbound", status="sent", provider="twilio", to_phone=PHONE
    )
    client = user_client(agent) if role == "agent" else role_client(role)
    assert client.get("/api/interactions").json()["results"][0]["customer_phone"] == expected
    detail = client.get(f"/api/interactions/{interaction.pk}").json()
    assert detail["customer_phone"] == expected
    assert detail["messages"][0]["to_phone"] == expected


def test_an_api_key_whose_role_may_see_pii_gets_clear_numbers():
    InteractionFactory()
    client, _ = key_client("supervisor")
    assert client.get("/api/interactions").json()["results"][0]["customer_phone"] == PHONE


def test_masking_off_shows_numbers_to_everyone(settings):
    settings.PII_MASKING_ENABLED = False
    interaction = InteractionFactory()
    client = role_client("integration")
    assert client.get("/api/interactions").json()["results"][0]["customer_phone"] == PHONE
    assert client.get(f"/api/interactions/{interaction.pk}").json()["customer_phone"] == PHONE
    assert not AuditLog.objects.filter(action__startswith="interaction.pii").exists()


def test_unmasked_reads_are_audited_and_masked_ones_are_not():
    interaction = InteractionFactory()
    role_client("auditor").get(f"/api/interactions/{interaction.pk}")
    role_client("auditor").get("/api/interactions")
    assert not AuditLog.objects.filter(action__startswith="interaction.pii").exists()

    supervisor = UserFactory(roles=["supervisor"])
    client = user_client(supervisor)
    client.get(f"/api/interactions/{interaction.pk}")
    client.get("/api/interactions")
    viewed = AuditLog.objects.get(action="interaction.pii_viewed")
    assert (viewed.actor_type, viewed.actor_id, viewed.target_id) == ("user", str(supervisor.pk), str(interaction.pk))
    listed = AuditLog.objects.get(action="interaction.pii_listed")
    assert listed.data == {"reason": "api.interaction_list", "ids": [str(interaction.pk)]}
    assert PHONE not in str(viewed.data) + str(listed.data)


def test_phone_filter_takes_the_full_number_and_finds_masked_and_redacted_rows():
    wanted = InteractionFactory()
    InteractionFactory(customer_phone="+5215599990000")
    redacted = InteractionFactory()
    redacted.customer_phone = MASKED  # what redaction leaves; the hash stays
    redacted.redacted_at = timezone.now()
    redacted.save(update_fields=["customer_phone", "redacted_at"])
    client = role_client("integration")
    response = client.get("/api/interactions", {"phone": "+52 1 55 1234 5678"})
    assert response.status_code == 200
    assert set(_ids(response)) == {str(wanted.pk), str(redacted.pk)}
    assert all(row["customer_phone"] == MASKED for row in response.json()["results"])


def test_a_bad_phone_filter_is_a_400_naming_the_field():
    response = role_client("integration").get("/api/interactions", {"phone": "12"})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["errors"][0]["attr"] == "phone"


# --- Filters and pagination ------------------------------------------------------------------------------------------


def test_filters():
    now = timezone.now()
    agent = UserFactory(roles=["agent"])
    call = InteractionFactory(
        channel="call",
        direction="inbound",
        provider="elevenlabs",
        external_id="conv_1",
        created_at=now - timedelta(days=2),
    )
    whatsapp = InteractionFactory(
        channel="whatsapp",
        direction="inbound",
        provider="builderbot",
        status="in_progress",
        assigned_agent=agent,
        created_at=now - timedelta(days=1),
    )
    sms = InteractionFactory(created_at=now)
    client = role_client("supervisor")

    def ids(**params):
        response = client.get("/api/interactions", params)
        assert response.status_code == 200, response.content
        return set(_ids(response))

    assert ids(channel="call") == {str(call.pk)}
    assert ids(status="in_progress") == {str(whatsapp.pk)}
    assert ids(direction="outbound") == {str(sms.pk)}
    assert ids(provider="builderbot") == {str(whatsapp.pk)}
    assert ids(agent=agent.pk) == {str(whatsapp.pk)}
    assert ids(unassigned="true") == {str(call.pk), str(sms.pk)}
    assert ids(created_after=(now - timedelta(hours=36)).isoformat()) == {str(whatsapp.pk), str(sms.pk)}
    assert ids(created_before=(now - timedelta(hours=36)).isoformat()) == {str(call.pk)}
    assert ids(search="conv_1") == {str(call.pk)}
    assert ids(search=str(sms.pk)) == {str(sms.pk)}
    assert ids(search=PHONE) == {str(call.pk), str(whatsapp.pk), str(sms.pk)}
    assert ids(search="nothing") == set()


@pytest.mark.parametrize("params", [{"channel": "fax"}, {"ordering": "customer_phone"}, {"created_after": "yesterday"}])
def test_invalid_filters_are_400(params):
    response = role_client("supervisor").get("/api/interactions", params)
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"


def test_keyset_pagination_is_newest_first_and_stable_under_inserts():
    now = timezone.now()
    rows = [InteractionFactory(created_at=now - timedelta(minutes=n)) for n in range(5)]
    client = role_client("integration")
    first = client.get("/api/interactions", {"page_size": 2}).json()
    assert first["previous"] is None
    assert _ids_of(first) == [str(rows[0].pk), str(rows[1].pk)]
    InteractionFactory()  # a new one arriving does not shift the next page
    second = client.get(first["next"]).json()
    assert _ids_of(second) == [str(rows[2].pk), str(rows[3].pk)]
    third = client.get(second["next"]).json()
    assert _ids_of(third) == [str(rows[4].pk)]
    assert third["next"] is None
    oldest_first = client.get("/api/interactions", {"ordering": "created_at", "page_size": 2}).json()
    assert _ids_of(oldest_first) == [str(rows[4].pk), str(rows[3].pk)]


def test_ties_on_created_at_are_broken_by_id():
    at = timezone.now()
    rows = [InteractionFactory(created_at=at) for _ in range(3)]
    client = role_client("integration")
    seen = []
    url, params = "/api/interactions", {"page_size": 1}
    while url:
        page = client.get(url, params).json()
        seen += _ids_of(page)
        url, params = page["next"], None
    assert sorted(seen) == sorted(str(r.pk) for r in rows)
    assert len(seen) == 3


def _ids_of(page):
    return [row["id"] for row in page["results"]]


def _list_queries(client, count):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/interactions", {"page_size": count})
    assert response.status_code == 200
    assert len(response.json()["results"]) == count
    return len(queries)


@pytest.mark.parametrize("role", ["supervisor", "integration"])
def test_a_page_of_50_costs_the_same_queries_as_a_page_of_5(role):
    agents = [UserFactory(roles=["agent"]) for _ in range(3)]
    for n in range(50):
        InteractionFactory(assigned_agent=agents[n % 3])
    client = role_client(role)
    client.get("/api/interactions", {"page_size": 1})  # warm: the key's last-used stamp, JWT user lookups
    assert _list_queries(client, 5) == _list_queries(client, 50)


# --- Detail ----------------------------------------------------------------------------------------------------------


def test_detail_has_messages_call_detail_and_event_summary():
    interaction = InteractionFactory(channel="call", direction="inbound", provider="elevenlabs", external_id="conv_9")
    CallDetail.objects.create(
        interaction=interaction,
        conversation_id="conv_9",
        duration_seconds=93,
        transcript=[{"role": "agent", "message": "Hola"}],
        recording_url="https://example.com/rec.mp3",
        customer_number=PHONE,
    )
    sms = InteractionFactory()
    Message.objects.create(
        interaction=sms,
        channel="sms",
        direction="outbound",
        status="delivered",
        provider="twilio",
        to_phone=PHONE,
        body="Your balance is 10",
        purpose="notice",
    )
    Message.objects.create(
        interaction=sms,
        channel="sms",
        direction="outbound",
        status="sent",
        provider="twilio",
        to_phone=PHONE,
        body="123456 is your code",
        is_sensitive=True,
    )
    for n, status in enumerate(["processed", "processed", "failed"]):
        InteractionEvent.objects.create(
            provider="elevenlabs",
            event_type="post_call_transcription",
            idempotency_key=f"k{n}",
            status=status,
            interaction=interaction,
        )
    client = role_client("auditor")

    call = client.get(f"/api/interactions/{interaction.pk}").json()
    assert call["call_detail"]["duration_seconds"] == 93
    assert call["call_detail"]["transcript"] == [{"role": "agent", "message": "Hola"}]
    assert call["call_detail"]["recording_url"] == "https://example.com/rec.mp3"
    assert call["call_detail"]["customer_number"] == MASKED
    assert call["event_summary"] == {
        "total": 3,
        "by_status": {"processed": 2, "failed": 1},
        "by_type": {"post_call_transcription": 3},
    }
    assert call["messages"] == []

    detail = client.get(f"/api/interactions/{sms.pk}").json()
    assert detail["call_detail"] is None
    assert [m["body"] for m in detail["messages"]] == ["Your balance is 10", "[hidden: sensitive content]"]
    assert "123456" not in str(detail)
    assert detail["event_summary"] == {"total": 0, "by_status": {}, "by_type": {}}


def test_unknown_interaction_is_404_json():
    response = role_client("auditor").get("/api/interactions/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


# --- PATCH -----------------------------------------------------------------------------------------------------------


def test_supervisor_assigns_and_changes_status_and_each_change_is_audited():
    supervisor, agent = UserFactory(roles=["supervisor"]), UserFactory(roles=["agent"])
    interaction = InteractionFactory()
    client = user_client(supervisor)
    response = client.patch(
        f"/api/interactions/{interaction.pk}", {"assigned_agent": agent.pk, "status": "in_progress"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["assigned_agent"] == {"id": agent.pk, "username": agent.username}
    assert body["status"] == "in_progress"
    assigned = AuditLog.objects.get(action="interaction.assigned")
    assert assigned.data == {"from_agent": None, "to_agent": agent.pk}
    assert assigned.actor_id == str(supervisor.pk)
    changed = AuditLog.objects.get(action="interaction.status_changed")
    assert changed.data == {"from": "open", "to": "in_progress"}

    response = client.patch(
        f"/api/interactions/{interaction.pk}", {"status": "completed", "assigned_agent": None}, format="json"
    )
    assert response.status_code == 200
    interaction.refresh_from_db()
    assert interaction.status == "completed"
    assert interaction.ended_at is not None
    assert interaction.assigned_agent is None


def test_transitions_out_of_a_final_status_are_409():
    interaction = InteractionFactory(status="completed")
    response = role_client("supervisor").patch(f"/api/interactions/{interaction.pk}", {"status": "open"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "type": "client_error",
        "errors": [
            {"code": "invalid_transition", "detail": "A completed interaction cannot change status.", "attr": "status"}
        ],
    }


@pytest.mark.parametrize(
    ("payload", "attr", "code"),
    [
        ({"status": "open"}, "status", "status_unchanged"),
        ({"status": "closed"}, "status", "invalid_choice"),
        ({}, "non_field_errors", "empty_patch"),
        ({"assigned_agent": 999999}, "assigned_agent", "invalid_agent"),
    ],
)
def test_refused_changes_are_400_naming_the_field(payload, attr, code):
    interaction = InteractionFactory()
    response = role_client("supervisor").patch(f"/api/interactions/{interaction.pk}", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert (body["errors"][0]["attr"], body["errors"][0]["code"]) == (attr, code)
    assert not AuditLog.objects.filter(action__in=["interaction.assigned", "interaction.status_changed"]).exists()


def test_only_agents_and_supervisors_can_be_assigned_and_a_refusal_changes_nothing():
    interaction = InteractionFactory()
    auditor = UserFactory(roles=["auditor"])
    response = role_client("supervisor").patch(
        f"/api/interactions/{interaction.pk}", {"assigned_agent": auditor.pk, "status": "in_progress"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_agent"
    interaction.refresh_from_db()
    assert interaction.status == "open"  # the status change in the same request did not happen either


def test_put_and_delete_are_not_allowed():
    interaction = InteractionFactory()
    client = role_client("supervisor")
    assert (
        client.put(f"/api/interactions/{interaction.pk}", {"status": "in_progress"}, format="json").status_code == 405
    )
    assert client.delete(f"/api/interactions/{interaction.pk}").status_code == 405


def test_the_detail_costs_the_same_queries_with_2_or_20_messages():
    client = role_client("supervisor")

    def queries_for(count):
        interaction = InteractionFactory()
        for _ in range(count):
            Message.objects.create(
                interaction=interaction, channel="sms", direction="outbound", status="sent", provider="twilio"
            )
        client.get(f"/api/interactions/{interaction.pk}")  # warm per-client lookups
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/interactions/{interaction.pk}").status_code == 200
        return len(queries)

    assert queries_for(2) == queries_for(20)
