"""The other back-office lists load, search exactly, and stay within a handful of queries."""

import pytest

from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from tests.factories import MessageFactory, OngoingInteractionFactory, OtpSmsFactory
from webhooks.models import InteractionEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.mark.parametrize(
    ("url", "queries"),
    [
        ("/admin/interactions/message/", ["", "?q=SM1", "?status__in=queued,sending", "?created=today"]),
        ("/admin/otp/otpchallenge/", ["", "?q=%2B5215512344321", "?q=not-a-uuid", "?status__exact=failed"]),
        ("/admin/webhooks/interactionevent/", ["", "?q=conv-1", "?status__exact=failed", "?provider=twilio"]),
        ("/admin/audit/auditlog/", ["", "?q=interaction.pii_viewed", "?created=7d"]),
        ("/admin/interactions/calldetail/", ["", "?q=conv-1"]),
    ],
)
def test_lists_load_and_search(staff_client, make_staff, url, queries, django_assert_max_num_queries):
    interaction = OngoingInteractionFactory(channel="sms")
    OtpSmsFactory(interaction=interaction, status="failed", code="111222", provider_message_id="SM1")
    InteractionEvent.objects.create(
        provider="twilio",
        idempotency_key="k",
        external_ref="conv-1",
        status="failed",
        payload={"To": "+5215512344321"},
        interaction=interaction,
    )
    audit_log_record(
        actor=Actor.system(), action="interaction.pii_viewed", target_type="interaction", target_id=interaction.pk
    )
    client = staff_client(make_staff("sup", "supervisor"))
    for query in queries:
        client.get(url + query)
        with django_assert_max_num_queries(8):
            response = client.get(url + query)
        assert response.status_code == 200, (url, query)
        content = response.content.decode()
        if "5215512344321" not in query:  # the search box shows back what the user typed
            assert "+5215512344321" not in content
        assert "111222" not in content


def test_message_page_hides_sensitive_bodies(staff_client, make_staff):
    interaction = OngoingInteractionFactory(channel="sms")
    message = MessageFactory(interaction=interaction, body="Your code is 111222", is_sensitive=True)
    page = staff_client(make_staff("sup", "supervisor")).get(f"/admin/interactions/message/{message.pk}/change/")
    content = page.content.decode()
    assert page.status_code == 200
    assert "111222" not in content and "+5215512344321" not in content
    assert "hidden: one-time code" in content
