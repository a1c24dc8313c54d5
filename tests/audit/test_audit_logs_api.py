"""GET /api/audit-logs: auditors and supervisors only, filters, keyset pagination."""

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from audit.models import AuditLog
from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from tests.api.helpers import fresh_throttles, role_client  # noqa: F401  (fresh_throttles: autouse fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/api/audit-logs"


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 401), ("supervisor", 200), ("auditor", 200), ("agent", 403), ("integration", 403)],
)
def test_who_may_read_the_audit_log(role, status):
    assert role_client(role).get(URL).status_code == status


def _record(action, *, actor=None, target_id="", at=None):
    with freeze_time(at or timezone.now()):  # the table is append-only: the time is set when written
        return audit_log_record(
            actor=actor or Actor.system(),
            action=action,
            target_type="interaction" if target_id else "",
            target_id=target_id,
        )


def test_filters_by_actor_action_target_and_time():
    now = timezone.now()
    alice = Actor(type="user", id="41", label="alice")
    a = _record("interaction.assigned", actor=alice, target_id="i-1", at=now - timedelta(days=3))
    b = _record("interaction.status_changed", actor=alice, target_id="i-2", at=now - timedelta(days=1))
    c = _record("api_key.created", actor=Actor.system("create_api_key"), at=now)
    client = role_client("auditor")

    def ids(**params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]} - {
            r.pk for r in AuditLog.objects.exclude(pk__in=[a.pk, b.pk, c.pk])
        }

    assert ids(actor="41") == {a.pk, b.pk}
    assert ids(actor_type="user", actor="41") == {a.pk, b.pk}
    assert ids(actor_type="system") == {c.pk}
    assert ids(action="interaction.assigned") == {a.pk}
    assert ids(target_type="interaction", target_id="i-2") == {b.pk}
    assert ids(target_type="interaction") == {a.pk, b.pk}
    assert ids(created_after=(now - timedelta(days=2)).isoformat()) == {b.pk, c.pk}
    assert ids(created_before=(now - timedelta(days=2)).isoformat()) == {a.pk}


def test_target_id_needs_target_type():
    response = role_client("auditor").get(URL, {"target_id": "x"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "target_id"


def test_pages_are_newest_first_with_cursor_links():
    now = timezone.now()
    records = [_record(f"test.{n}", at=now - timedelta(minutes=n)) for n in range(3)]
    client = role_client("supervisor")
    first = client.get(URL, {"page_size": 2, "action": "test.0"}).json()
    assert [row["id"] for row in first["results"]] == [records[0].pk]
    page = client.get(URL, {"page_size": 2, "created_after": (now - timedelta(minutes=5)).isoformat()}).json()
    seen = [row["action"] for row in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [row["action"] for row in page["results"]]
    assert [s for s in seen if s.startswith("test.")] == ["test.0", "test.1", "test.2"]
