"""The interactions changelist: masked phones, search, filters, a bounded number of queries whatever the page size."""

import pytest
from django.core.cache import cache

from backoffice.admin.interactions import InteractionAdmin
from backoffice.paginator import CappedCountPaginator
from interactions.models import Interaction
from tests.factories import OngoingInteractionFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

URL = "/admin/interactions/interaction/"


@pytest.fixture
def supervisor(make_staff):
    return make_staff("sup", "supervisor")


@pytest.fixture
def many(make_staff):
    agents = [make_staff(f"agent{i}", "agent") for i in range(3)]
    rows = []
    for i in range(120):
        channel = ("call", "whatsapp", "sms")[i % 3]
        rows.append(
            OngoingInteractionFactory(
                channel=channel,
                assigned_agent=agents[i % 3] if i % 2 else None,
                customer_phone=f"+5255123{i:05d}",
                status=("open", "completed")[i % 2],
                external_id=f"ext-{i}" if channel == "call" else None,
            )
        )
    return rows


@pytest.mark.parametrize("per_page", [5, 50, 100])
@pytest.mark.parametrize(
    "query",
    [
        "",
        "?channel__exact=call",
        "?status__exact=open&direction__exact=inbound",
        "?agent=none",
        "?created=7d",
        "?provider=twilio",
        "?q=%2B5215512300007",
        "?q=ext-3",
    ],
)
def test_at_most_six_queries_per_page(
    staff_client, supervisor, many, monkeypatch, django_assert_max_num_queries, per_page, query
):
    monkeypatch.setattr(InteractionAdmin, "list_per_page", per_page)
    client = staff_client(supervisor)
    assert client.get(URL + query).status_code == 200  # warms the agent-choices cache, as any earlier page would
    with django_assert_max_num_queries(6):
        response = client.get(URL + query)
    assert response.status_code == 200


def test_phones_are_masked_and_the_duration_shown(staff_client, supervisor, many):
    content = staff_client(supervisor).get(URL + "?channel__exact=call").content.decode()
    assert "+5215512300000" not in content and "+525512300000" not in content
    assert "+52******0000" in content
    assert "2:05" in content  # 125 s from the call detail


def test_search_by_full_phone_in_any_format_and_by_external_id(staff_client, supervisor, many):
    client = staff_client(supervisor)
    target = many[7]
    response = client.get(URL, {"q": "+52 1 55 1230 0007"})
    assert list(response.context["cl"].result_list) == [target]
    response = client.get(URL, {"q": "ext-3"})
    assert [obj.external_id for obj in response.context["cl"].result_list] == ["ext-3"]
    assert list(client.get(URL, {"q": "no-such-id"}).context["cl"].result_list) == []


def test_filters_narrow_the_list(staff_client, supervisor, many):
    client = staff_client(supervisor)
    calls = client.get(URL, {"channel__exact": "call", "status__exact": "completed"}).context["cl"]
    assert calls.result_count == Interaction.objects.filter(channel="call", status="completed").count()
    agent = many[1].assigned_agent
    mine = client.get(URL, {"agent": str(agent.pk)}).context["cl"]
    assert {obj.assigned_agent_id for obj in mine.result_list} == {agent.pk}
    assert client.get(URL, {"provider": "twilio"}).context["cl"].result_count == 40


def test_the_count_is_capped_and_estimated_on_big_tables(staff_client, supervisor, many, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 30)
    client = staff_client(supervisor)
    response = client.get(URL)
    paginator = response.context["cl"].paginator
    assert paginator.count == 30  # pages stop at the cap: no deep OFFSET
    assert paginator.count_is_capped
    assert "interactions" in response.content.decode()
    filtered = client.get(URL, {"channel__exact": "sms"})
    assert "more than 30 interactions" in filtered.content.decode()
    cache.clear()


@pytest.mark.parametrize("query", ["", "?status__exact=open", "?q=%2B5215512300001"])
def test_an_agents_page_stays_within_the_budget(staff_client, many, django_assert_max_num_queries, query):
    agent = many[1].assigned_agent
    client = staff_client(agent)
    client.get(URL + query)
    with django_assert_max_num_queries(6):
        response = client.get(URL + query)
    assert response.status_code == 200
    assert all(obj.assigned_agent_id == agent.pk for obj in response.context["cl"].result_list)


def test_no_facet_counts_on_the_big_list(staff_client, supervisor, many, django_assert_max_num_queries):
    client = staff_client(supervisor)
    assert "Show counts" not in client.get(URL).content.decode()
    client.get(URL + "?_facets=True")
    with django_assert_max_num_queries(6):
        assert client.get(URL + "?_facets=True").status_code == 200
