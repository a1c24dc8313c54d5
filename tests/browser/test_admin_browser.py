"""The back office in a real browser: the second factor at login, the changelist, the timeline, the audited PII
reveal, and what agents and auditors may not do. Writes screenshots of the changelist, change page and dashboard."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from interactions.models import CallDetail, Interaction, Message
from otp.models import OtpChallenge
from webhooks.models import InteractionEvent

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROLE_PERMS = {
    "supervisor": [
        "view_interaction",
        "change_interaction",
        "view_pii",
        "view_message",
        "view_auditlog",
        "view_interactionevent",
        "view_otpchallenge",
    ],
    "agent": ["view_interaction", "change_interaction", "view_message"],
    "auditor": ["view_interaction", "view_message", "view_auditlog", "view_interactionevent", "view_otpchallenge"],
}


def staff(username, role):
    group, _ = Group.objects.get_or_create(name=role)
    group.permissions.add(*Permission.objects.filter(codename__in=ROLE_PERMS[role]))
    user = get_user_model().objects.create_user(username=username, password="Str0ng-pass!", is_staff=True)
    user.groups.add(group)
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return user


def token_for(user):
    device = TOTPDevice.objects.get(user=user)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def interaction(agent, phone, channel="call"):
    now = timezone.now()
    obj = Interaction.objects.create(
        channel=channel,
        direction="inbound",
        status="open",
        customer_phone=phone,
        provider={"call": "elevenlabs", "whatsapp": "builderbot"}[channel],
        assigned_agent=agent,
        external_id=f"conv-{uuid.uuid4().hex[:10]}" if channel == "call" else None,
        started_at=now - timedelta(minutes=3),
        last_activity_at=now,
    )
    if channel == "call":
        CallDetail.objects.create(
            interaction=obj,
            conversation_id=obj.external_id,
            duration_seconds=185,
            agent_name="Bank assistant",
            transcript=[
                {"role": "agent", "message": "Hello, how can I help you today?", "time_in_call_secs": 0},
                {"role": "user", "message": "I want to block my card.", "time_in_call_secs": 5},
            ],
        )
    else:
        Message.objects.create(
            interaction=obj,
            channel="whatsapp",
            direction="inbound",
            status="received",
            from_phone=phone,
            body="Hola, ¿mi saldo?",
            provider="builderbot",
        )
    return obj


def login(browser, live_server, user, with_token=True):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "Str0ng-pass!")
    if with_token:
        page.fill("#id_otp_token", token_for(user))
    page.click("input[type=submit]")
    return page


def test_supervisor_filters_opens_reveals_and_finds_the_audit(browser, live_server, browser_settings, screenshots):
    supervisor = staff("super", "supervisor")
    agent = staff("agent.a", "agent")
    call = interaction(agent, "+5215512344321", "call")
    Message.objects.create(
        interaction=call,
        channel="sms",
        direction="outbound",
        status="delivered",
        to_phone="+5215512344321",
        body="Your code is 493817",
        is_sensitive=True,
        provider="twilio",
    )
    OtpChallenge.objects.create(
        phone="+5215512344321",
        purpose="login",
        code_hash="x",
        status="approved",
        max_attempts=5,
        expires_at=timezone.now(),
        interaction=call,
    )
    InteractionEvent.objects.create(
        provider="elevenlabs",
        event_type="post_call_transcription",
        idempotency_key="e1",
        status="processed",
        interaction=call,
        payload={"type": "post_call_transcription", "data": {"conversation_id": call.external_id}},
    )
    interaction(None, "+5491112345678", "whatsapp")

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
    assert "+52*******4321" in rows.first.inner_text()
    screenshots(page, "changelist")

    rows.first.locator("th a").click()
    page.wait_for_selector("#timeline")
    assert "I want to block my card." in page.inner_text("#transcript")
    assert "+5215512344321" not in page.content()
    assert "493817" not in page.content()
    screenshots(page, "change_page")

    page.fill("#pii-reveal input[name=reason]", "Customer asked for a callback")
    page.click("#pii-reveal input[type=submit]")
    assert page.inner_text("#revealed-phone") == "+5215512344321"

    page.goto(f"{live_server.url}/admin/audit/auditlog/?q={call.pk}")
    table = page.inner_text("#result_list")
    assert "interaction.pii_viewed" in table and "super" in table

    call_command("seed_demo", "--interactions", "400", "--days", "14", "--seed", "4")  # something to chart
    page.goto(f"{live_server.url}/admin/dashboard/")
    page.wait_for_selector("svg.cc-chart")
    screenshots(page, "dashboard")
    page.context.close()


def test_an_agent_cannot_see_another_agents_interaction(browser, live_server, browser_settings):
    me, other = staff("agent.me", "agent"), staff("agent.other", "agent")
    mine = interaction(me, "+5215500000001")
    theirs = interaction(other, "+5215500000002")
    page = login(browser, live_server, me)
    page.goto(f"{live_server.url}/admin/interactions/interaction/")
    listing = page.inner_text("#result_list")
    assert str(mine.pk)[:8] in listing and str(theirs.pk)[:8] not in listing
    page.goto(f"{live_server.url}/admin/interactions/interaction/{theirs.pk}/change/")
    assert page.url.rstrip("/").endswith("/admin")  # "does not exist" and back home
    assert "I want to block my card." not in page.content()
    page.context.close()


def test_an_auditor_cannot_change_anything(browser, live_server, browser_settings):
    auditor = staff("audit.or", "auditor")
    obj = interaction(None, "+5215500000003")
    page = login(browser, live_server, auditor)
    page.goto(f"{live_server.url}/admin/interactions/interaction/")
    options = page.locator("select[name=action] option").all_inner_texts()
    assert [o for o in options if not o.startswith("-")] == ["Export selected as CSV"]
    page.goto(f"{live_server.url}/admin/interactions/interaction/{obj.pk}/change/")
    page.wait_for_selector("#timeline")
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("#pii-reveal").count() == 0
    page.context.close()
