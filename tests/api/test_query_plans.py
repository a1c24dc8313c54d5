"""The list stays fast on millions of rows: for every filter, PostgreSQL can read the page straight off an index in
the requested order (no Sort of the whole result). Sequential scans are disabled so the planner shows the plan it
would pick on a big table; an Incremental Sort (finishing ties within an index order) is fine."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import InteractionFactory, UserFactory

from .helpers import role_client

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _plan(client, params) -> str:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/interactions", params)
    assert response.status_code == 200, response.content
    (sql,) = [q["sql"] for q in queries if 'FROM "interactions_interaction"' in q["sql"] and "LIMIT" in q["sql"]]
    with connection.cursor() as cursor:
        # Tiny test tables have no statistics: forbid what a big table would make too expensive, so a Sort that
        # remains is one no index can avoid.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"ordering": "created_at"},
        {"channel": "sms"},
        {"status": "open"},
        {"direction": "inbound"},
        {"provider": "twilio"},
        {"agent": "AGENT"},
        {"phone": "+5215512345678"},
        {"created_after": "2026-01-01T00:00:00Z", "created_before": "2026-12-01T00:00:00Z"},
        # `search` ORs exact matches (a handful of rows): sorting those is cheap, so it is not listed here.
    ],
)
def test_every_filter_reads_its_page_from_an_index(params):
    agent = UserFactory(roles=["agent"])
    InteractionFactory(assigned_agent=agent, created_at=timezone.now())
    params = {key: (agent.pk if value == "AGENT" else value) for key, value in params.items()}
    plan = _plan(role_client("integration"), params)
    assert "Index" in plan, plan
    plain_sorts = [
        line
        for line in plan.splitlines()
        if "Sort" in line and "Incremental Sort" not in line and "Sort Key" not in line and "Presorted Key" not in line
    ]
    assert not plain_sorts, plan
