"""The back office in a real browser: the second factor at login, the changelist, the timeline, the audited PII
reveal, and what agents and auditors may not do. Writes screenshots of the changelist, change page and dashboard."""

import pytest
from django.core.cache import cache
from django.core.management import call_command

from backoffice.views import DASHBOARD_CACHE_KEY
from tests.backoffice.conftest import create_staff, totp_token
from tests.factories import PASSWORD, OngoingInteractionFactory, OtpSmsFactory
from webhooks.models import InteractionEvent

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def login(browser, live_server, user, with_token=True):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    if with_token:
        page.fill("#id_otp_token", totp_token(user))
    page.click("input[type=submit]")
    return page


def test_supervisor_filters_opens_reveals_and_finds_the_audit(browser, live_server, browser_settings, screenshots):
    supervisor = create_staff("super", "supervisor")
    agent = create_staff("agent.a", "agent")
    call = OngoingInteractionFactory(
        assigned_agent=agent, customer_phone="+5215512344321", external_id="conv-browser-1"
    )
    OtpSmsFactory(interaction=call)
    InteractionEvent.objects.create(
        provider="elevenlabs",
        event_type="post_call_transcription",
        idempotency_key="e1",
        status="processed",
        interaction=call,
        payload={"type": "post_call_transcription", "data": {"conversation_id": call.external_id}},
    )
    OngoingInteractionFactory(channel="whatsapp", customer_phone="+5491112345678")

    # Without the code the admin stays closed.
    page = login(browser, live_server, supervisor, with_token=False)
    assert "/admin/login/" in page.url
    page.context.close()

    page = login(browser, live_server, supervisor)
    page.wait_for_selector("#backoffice-dashboard-link")

    page.goto(f"{live_server.url}/admin/interactions/interaction/")
    page.click("#changelist-filter a:text-is('Call')")
    page.wait_for_url("**channel__exact=call**")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "+52******4321" in rows.first.inner_text()
    screenshots(page, "changelist")

    rows.first.locator("th a").click()
    page.wait_for_selector("#timeline")
    assert "My card was declined." in page.inner_text("#transcript")
    assert "+5215512344321" not in page.content() and "+525512344321" not in page.content()
    assert "493817" not in page.content()
    screenshots(page, "change_page")

    page.fill("#pii-reveal input[name=reason]", "Customer asked for a callback")
    page.click("#pii-reveal input[type=submit]")
    assert page.inner_text("#revealed-phone") == "+525512344321"  # canonical

    page.goto(f"{live_server.url}/admin/audit/auditlog/?q={call.pk}")
    table = page.inner_text("#result_list")
    assert "interaction.pii_viewed" in table and "super" in table

    call_command("seed_demo", "--interactions", "400", "--days", "14", "--seed", "4")  # something to chart
    cache.delete(DASHBOARD_CACHE_KEY)
    page.goto(f"{live_server.url}/admin/dashboard/")
    page.wait_for_selector("svg.cc-chart")
    screenshots(page, "dashboard")
    page.context.close()


def test_an_agent_cannot_see_another_agents_interaction(browser, live_server, browser_settings):
    me, other = create_staff("agent.me", "agent"), create_staff("agent.other", "agent")
    mine = OngoingInteractionFactory(assigned_agent=me, customer_phone="+5215500000001")
    theirs = OngoingInteractionFactory(assigned_agent=other, customer_phone="+5215500000002")
    page = login(browser, live_server, me)
    page.goto(f"{live_server.url}/admin/interactions/interaction/")
    listing = page.inner_text("#result_list")
    assert str(mine.pk)[:8] in listing and str(theirs.pk)[:8] not in listing
    page.goto(f"{live_server.url}/admin/interactions/interaction/{theirs.pk}/change/")
    assert page.url.rstrip("/").endswith("/admin")  # "does not exist" and back home
    assert "My card was declined." not in page.content()
    page.context.close()


def test_an_auditor_cannot_change_anything(browser, live_server, browser_settings):
    auditor = create_staff("audit.or", "auditor")
    obj = OngoingInteractionFactory(customer_phone="+5215500000003")
    page = login(browser, live_server, auditor)
    page.goto(f"{live_server.url}/admin/interactions/interaction/")
    options = page.locator("select[name=action] option").all_inner_texts()
    assert [o for o in options if not o.startswith("-")] == ["Export selected as CSV"]
    page.goto(f"{live_server.url}/admin/interactions/interaction/{obj.pk}/change/")
    page.wait_for_selector("#timeline")
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("#pii-reveal").count() == 0
    page.context.close()
