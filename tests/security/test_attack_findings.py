"""What the second round of attacks found (an outside tester working from the README and docs/security.md alone), each
proven closed. Named for the behaviour; the finding each answers is in its docstring."""

import io
import json
import re
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from interactions.models import CallDetail, Interaction, Message
from interactions.providers.elevenlabs import elevenlabs_signature_compute
from interactions.services import message_status_apply
from otp.models import OtpChallenge
from tests.factories import PASSWORD, UserFactory
from tests.support.fixtures import sms_outbox  # noqa: F401
from tests.webhooks.conftest import fixture_json
from webhooks.models import InteractionEvent

from .conftest import AdminBrowser, make_api_key, totp_device, totp_now

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

PHONE = "+525533330001"
ELEVENLABS_SECRET = "wsec_test_fixture_secret_do_not_use"


@pytest.fixture
def otp_server(prod_server, fake_twilio):
    return prod_server({"SMS_BACKEND": "auto", "TWILIO_API_BASE_URL": fake_twilio.url, "THROTTLE_RATE_OTP": "1000/min"})


def _post(server, path: str, key: str, body: dict) -> requests.Response:
    return requests.post(f"{server.url}{path}", json=body, headers={"Authorization": f"Api-Key {key}"}, timeout=10)


def _code(fake_twilio) -> str:
    return re.search(r"\b(\d{6,10})\b", fake_twilio.create_requests[-1].form["Body"]).group(1)


def test_the_per_phone_limit_counts_every_purpose_of_a_number(otp_server):
    """Found: with any purpose slug accepted, varying the purpose bypassed the per-phone limit (SMS bombing)."""
    key = make_api_key("integration")
    purposes = ["login", "login.", "login-", "login_", "a", "b", "c", "d"]
    statuses = [_post(otp_server, "/api/otp", key, {"phone": PHONE, "purpose": p}).status_code for p in purposes]
    limit = settings.OTP_PHONE_RATE_LIMIT_MAX
    assert statuses == [201] * limit + [429] * (len(purposes) - limit), statuses


def test_a_new_challenge_of_another_client_does_not_cancel_a_pending_one(otp_server, fake_twilio):
    """Found: a second client asking a code for the same number and purpose canceled the first client's challenge."""
    first, second = make_api_key("integration", "bank-app"), make_api_key("supervisor", "ivr")
    mine = _post(otp_server, "/api/otp", first, {"phone": PHONE, "purpose": "login"}).json()["id"]
    code = _code(fake_twilio)
    assert _post(otp_server, "/api/otp", second, {"phone": PHONE, "purpose": "login"}).status_code == 201
    assert OtpChallenge.objects.get(pk=mine).status == "pending"
    approved = _post(otp_server, "/api/otp/verify", first, {"id": mine, "code": code})
    assert approved.status_code == 200, approved.text


def test_a_number_typed_without_its_country_code_or_premium_rate_gets_no_code(otp_server, fake_twilio):
    """Found: `5522220001` (a Mexican national number) was read as +55 and texted; premium-rate numbers were texted."""
    key = make_api_key("integration")
    national = _post(otp_server, "/api/otp", key, {"phone": "5522220001", "purpose": "login"})
    assert national.status_code == 400 and national.json()["errors"][0]["code"] == "invalid_phone"
    premium = _post(otp_server, "/api/otp", key, {"phone": "+1 900 555 0199", "purpose": "login"})
    assert premium.status_code == 400 and premium.json()["errors"][0]["code"] == "number_not_allowed"
    assert fake_twilio.create_requests == []


@pytest.mark.django_db(transaction=True)
def test_a_failure_reported_after_delivery_does_not_take_the_code_away(settings, sms_outbox):  # noqa: F811
    """Found: a late `undelivered` after `delivered` marked the challenge failed: the customer held a code that no
    longer verified."""
    from contactcenter.common.actors import Actor
    from otp.services import otp_request, otp_verify

    settings.SMS_BACKEND = "console"
    result = otp_request(phone=PHONE, purpose="login", actor=Actor.system("test"), client_id="test")
    code = re.search(r"\b(\d{6,10})\b", sms_outbox[-1][1]).group(1)
    message = Message.objects.get(pk=result.challenge.message_id)
    sid = message.provider_message_id or "SMlate0001"
    Message.objects.filter(pk=message.pk).update(provider_message_id=sid)
    message_status_apply(provider_message_id=sid, status="delivered", at=timezone.now())
    message_status_apply(provider_message_id=sid, status="undelivered", at=timezone.now(), error_code="30003")
    assert OtpChallenge.objects.get(pk=result.challenge.pk).status == "pending"
    verified = otp_verify(code=code, actor=Actor.system("test"), challenge_id=result.challenge.pk, client_id="test")
    assert verified.verified


def test_secret_query_values_and_idempotency_headers_never_reach_a_log_line(prod_server):
    """Found: `access_token`, `otp_code`, `pin` query values and an `X-Idempotency-Key` value were logged in clear, and a
    number split by zero-width spaces was only partly masked."""
    server = prod_server({"THROTTLE_RATE_READS": "1000/min"})
    key = make_api_key("auditor")
    mark = server.log_mark()
    requests.get(
        f"{server.url}/api/interactions",
        params={
            "access_token": "SECRETTOKEN1236",
            "otp_code": "654321",
            "pin": "654322",
            "x": "+52\u200b155\u200b8888\u200b0002",
        },
        headers={"Authorization": f"Api-Key {key}"},
        timeout=10,
    )
    requests.post(
        f"{server.url}/webhooks/builderbot/whatsapp",
        data=json.dumps({"eventName": "message.incoming", "data": {"from": "5215588880001", "body": "hola"}}),
        headers={
            "Content-Type": "application/json",
            "X-Webhook-Token": "test-builderbot-token",
            "X-Idempotency-Key": "idem-5215588880001",
        },
        timeout=10,
    )
    logged = server.log_text_since(mark)
    for secret in ("SECRETTOKEN1236", "654321", "654322", "5215588880001", "1558888"):
        assert secret not in logged, secret


def test_numbers_inside_provider_identifiers_are_masked_in_the_admin(prod_server):
    """Found: a number used as an event name, a message id (a JID) or a conversation id showed in clear in the admin's
    lists, page titles and detail pages."""
    server = prod_server()
    for body in (
        {"eventName": "+5215588880001", "data": {"from": "5215588880002", "body": "x"}},
        {
            "eventName": "message.incoming",
            "data": {"id": "5215588880003@s.whatsapp.net", "from": "5215588880004", "body": "y"},
        },
    ):
        requests.post(
            f"{server.url}/webhooks/builderbot/whatsapp",
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "X-Webhook-Token": "test-builderbot-token"},
            timeout=10,
        )
    OtpChallenge.objects.create(
        phone=PHONE, purpose="login", code_hash="x", max_attempts=5, expires_at=timezone.now() + timedelta(minutes=5),
        conversation_id="5215588880005", client_id="c",
    )  # fmt: skip
    root = UserFactory(username="root", superuser=True)
    browser = AdminBrowser(server.url)
    assert browser.login("root", PASSWORD, totp_now(totp_device(root))).status_code == 302
    pages = [browser.session.get(f"{server.url}/admin/webhooks/interactionevent/", timeout=10).text]
    for event in InteractionEvent.objects.all():
        pages.append(
            browser.session.get(f"{server.url}/admin/webhooks/interactionevent/{event.pk}/change/", timeout=10).text
        )
    challenge = OtpChallenge.objects.get()
    pages.append(browser.session.get(f"{server.url}/admin/otp/otpchallenge/{challenge.pk}/change/", timeout=10).text)
    text = "\n".join(pages)
    for number in ("5215588880001", "5215588880003", "5215588880005"):
        assert number not in text, number
    assert "Server Error" not in text


def test_an_out_of_range_call_duration_is_dropped_and_the_rest_of_the_call_applied(prod_server):
    """Found: `call_duration_secs: 99999999999999999999` failed the whole post-call delivery (OverflowError)."""
    server = prod_server()
    payload = fixture_json("elevenlabs_post_call_transcription.json")
    payload["data"]["metadata"]["call_duration_secs"] = 99999999999999999999
    raw = json.dumps(payload).encode()
    response = requests.post(
        f"{server.url}/webhooks/elevenlabs/call",
        data=raw,
        headers={
            "Content-Type": "application/json",
            "ElevenLabs-Signature": elevenlabs_signature_compute(raw_body=raw, secret=ELEVENLABS_SECRET),
        },
        timeout=10,
    )
    assert response.status_code == 200 and response.json()["status"] == "processed", response.text
    detail = CallDetail.objects.get()
    assert detail.duration_seconds is None and detail.transcript
    assert Interaction.objects.get().customer_phone


def test_the_voice_agent_checks_only_its_own_codes_of_a_conversation(otp_server, fake_twilio):
    """Found: an API client could bind a challenge of its own (to its own phone) to a call's conversation id, and the
    voice agent's verification then answered `unavailable` instead of checking the caller's code."""
    tools = {"Content-Type": "application/json", "X-Webhook-Token": settings.ELEVENLABS_WEBHOOK_TOKENS[0]}
    caller = "+525500006666"
    requests.post(
        f"{otp_server.url}/webhooks/elevenlabs/initiation",
        json={
            "caller_id": caller,
            "agent_id": "a",
            "called_number": "+525500000000",
            "call_sid": "CA1",
            "conversation_id": "conv_x",
        },
        headers=tools,
        timeout=10,
    )
    intruder = make_api_key("integration")
    _post(
        otp_server, "/api/otp", intruder, {"phone": "+525500007777", "purpose": "identity", "conversation_id": "conv_x"}
    )
    intruder_code = _code(fake_twilio)
    sent = requests.post(
        f"{otp_server.url}/webhooks/elevenlabs/tools/otp/send",
        json={"conversation_id": "conv_x", "caller_id": caller},
        headers=tools,
        timeout=10,
    ).json()
    assert sent["result"] == "sent", sent
    caller_code = _code(fake_twilio)
    wrong = requests.post(
        f"{otp_server.url}/webhooks/elevenlabs/tools/otp/verify",
        json={"conversation_id": "conv_x", "caller_id": caller, "code": intruder_code},
        headers=tools,
        timeout=10,
    ).json()
    assert wrong["result"] == "wrong_code", wrong
    right = requests.post(
        f"{otp_server.url}/webhooks/elevenlabs/tools/otp/verify",
        json={"conversation_id": "conv_x", "caller_id": caller, "code": caller_code},
        headers=tools,
        timeout=10,
    ).json()
    assert right["result"] == "approved", right


@pytest.mark.parametrize(
    "media_url",
    ["http://cdn.example.com/a.jpg", "https://169.254.169.254/latest/meta-data", "https://localhost/x.png",
     "https://user:pw@cdn.example.com/a.jpg", "https://intranet/a.jpg", "https://[::1]/a.jpg"],
)  # fmt: skip
def test_a_media_link_must_be_a_public_https_address(prod_server, media_url):
    """Found: any media URL was handed to BuilderBot to fetch, the cloud's metadata address included."""
    server = prod_server({"THROTTLE_RATE_WRITES": "1000/min"})
    interaction = Interaction.objects.create(
        channel="whatsapp", direction="inbound", provider="builderbot", customer_phone=PHONE
    )
    key = make_api_key("supervisor")
    response = _post(
        server, f"/api/interactions/{interaction.pk}/messages", key, {"body": "mire", "media_url": media_url}
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["attr"] == "media_url"
    assert not Message.objects.exists()


# --- the first attacker's findings (identity, sessions, access control) ---------------------------------------------


def test_a_console_user_with_a_role_gets_no_api_token_without_the_second_factor(prod_server):
    """Found (high): a console user in the supervisor group who is not staff got a full token with the password alone."""
    server = prod_server({"THROTTLE_RATE_AUTH": "1000/min"})
    user = UserFactory(username="sup3", roles=["supervisor"])
    refused = requests.post(f"{server.url}/api/auth/token", json={"username": "sup3", "password": PASSWORD}, timeout=10)
    assert refused.status_code == 401 and refused.json()["errors"][0]["code"] == "invalid_credentials"
    device = totp_device(user)
    granted = requests.post(
        f"{server.url}/api/auth/token",
        json={"username": "sup3", "password": PASSWORD, "otp_token": totp_now(device)},
        timeout=10,
    )
    assert granted.status_code == 200, granted.text


def test_one_client_can_neither_exhaust_nor_observe_another_clients_limits_for_a_number(otp_server):
    """Found: another client's codes counted against a client's per-number limit, so one client could lock a
    customer out of another's codes and learn, from its own 429, how many codes others had sent."""
    a, b = make_api_key("integration", "a"), make_api_key("integration", "b")
    number = "+525533330009"
    assert [_post(otp_server, "/api/otp", a, {"phone": number, "purpose": "login"}).status_code for _ in range(2)] == [
        201,
        201,
    ]
    assert [_post(otp_server, "/api/otp", b, {"phone": number, "purpose": "login"}).status_code for _ in range(4)] == [
        201,
        201,
        201,
        429,
    ]
    assert _post(otp_server, "/api/otp", a, {"phone": number, "purpose": "login"}).status_code == 201


def test_an_api_key_issued_in_the_admin_never_travels_in_a_cookie(prod_server):
    """Found: the new key was shown through Django's cookie-based messages: signed, not encrypted, in two headers."""
    server = prod_server()
    root = UserFactory(username="root", superuser=True)
    browser = AdminBrowser(server.url)
    assert browser.login("root", PASSWORD, totp_now(totp_device(root))).status_code == 302
    token = browser.csrf("/admin/accounts/apikey/add/")
    added = browser.session.post(
        f"{server.url}/admin/accounts/apikey/add/",
        data={"name": "ivr", "role": "integration", "expiry_date_0": "2027-01-01", "expiry_date_1": "00:00:00",
              "csrfmiddlewaretoken": token},
        headers={"Referer": f"{server.url}/admin/accounts/apikey/add/"},
        allow_redirects=False,
        timeout=10,
    )  # fmt: skip
    assert added.status_code == 302, added.text[:2000]
    assert "messages" not in added.cookies and "messages" not in browser.session.cookies
    page = browser.session.get(f"{server.url}{added.headers['Location']}", timeout=10)
    from accounts.models import ApiKey

    prefix = ApiKey.objects.get(name="ivr").prefix
    assert f"{prefix}." in page.text  # shown once, on the page that follows


def test_an_invisible_reason_neither_reveals_a_number_nor_exports_in_clear(prod_server):
    """Found: five zero-width spaces were accepted as the reason of a reveal and of an export in clear."""
    server = prod_server()
    root = UserFactory(username="root", superuser=True)
    interaction = Interaction.objects.create(
        channel="sms", direction="inbound", provider="twilio", customer_phone="+525533330077"
    )
    browser = AdminBrowser(server.url)
    assert browser.login("root", PASSWORD, totp_now(totp_device(root))).status_code == 302
    url = f"/admin/interactions/interaction/{interaction.pk}/reveal/"
    token = browser.csrf(f"/admin/interactions/interaction/{interaction.pk}/change/")
    page = browser.session.post(
        server.url + url,
        data={"reason": "\u200b" * 5, "csrfmiddlewaretoken": token},
        headers={"Referer": server.url + url},
        timeout=10,
    )
    assert "+525533330077" not in page.text
    from audit.models import AuditLog

    assert not AuditLog.objects.filter(action="interaction.pii_viewed").exists()


def test_superusers_can_neither_revive_revoked_tokens_nor_read_second_factor_secrets_in_the_admin(prod_server):
    """Found: a superuser could delete a blacklist entry (reviving a signed-out refresh token) and read TOTP keys."""
    server = prod_server()
    root = UserFactory(username="root", superuser=True)
    device = totp_device(root)
    browser = AdminBrowser(server.url)
    assert browser.login("root", PASSWORD, totp_now(device)).status_code == 302
    for path in ("/admin/token_blacklist/blacklistedtoken/", "/admin/token_blacklist/outstandingtoken/"):
        assert browser.session.get(server.url + path, timeout=10).status_code == 404, path
    detail = browser.session.get(f"{server.url}/admin/otp_totp/totpdevice/{device.pk}/change/", timeout=10)
    assert device.key not in detail.text


def test_admin_sessions_end_with_the_browser_and_within_hours(prod_server):
    """Found: the admin's session cookie lasted 14 days and survived closing the browser."""
    server = prod_server()
    root = UserFactory(username="root", superuser=True)
    browser = AdminBrowser(server.url)
    response = browser.login("root", PASSWORD, totp_now(totp_device(root)))
    set_cookie = response.headers.get("Set-Cookie", "")
    session_cookie = next(part for part in set_cookie.split(", sessionid=")[-1:])
    assert "Max-Age" not in session_cookie and "expires" not in session_cookie.lower()
    from django.contrib.sessions.models import Session

    session = Session.objects.get()
    assert session.expire_date - timezone.now() <= timedelta(hours=settings.ADMIN_SESSION_HOURS, minutes=1)


def test_api_keys_expire_and_only_superusers_issue_supervisor_keys_which_end_with_their_issuer(prod_server):
    """Found: a supervisor could mint a never-expiring supervisor key that kept working after they were deactivated."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from accounts.models import ApiKey
    from accounts.services import api_key_create
    from contactcenter.common.actors import Actor
    from contactcenter.common.domain import DomainError

    call_command("create_api_key", "ivr", "--role", "integration", stdout=io.StringIO())
    key = ApiKey.objects.get(name="ivr")
    assert key.expiry_date is not None
    assert key.expiry_date <= timezone.now() + timedelta(days=settings.API_KEY_MAX_DAYS, minutes=1)
    with pytest.raises(CommandError):
        call_command("create_api_key", "x", "--role", "integration", "--expires-days", "100000", stdout=io.StringIO())
    supervisor = UserFactory(username="sup1", roles=["supervisor"], staff=True)
    with pytest.raises(DomainError):
        api_key_create(name="mine", role="supervisor", actor=Actor.user(supervisor), issuer=supervisor)
    _issued, raw = api_key_create(name="reports", role="auditor", actor=Actor.user(supervisor), issuer=supervisor)
    server = prod_server()
    assert requests.get(f"{server.url}/api/audit-logs", headers={"Authorization": f"Api-Key {raw}"}, timeout=10).ok
    supervisor.is_active = False
    supervisor.save()
    assert (
        requests.get(
            f"{server.url}/api/audit-logs", headers={"Authorization": f"Api-Key {raw}"}, timeout=10
        ).status_code
        == 401
    )


def test_the_api_docs_and_the_back_office_run_only_scripts_the_product_serves(prod_server):
    """Found: /api/docs loaded Swagger UI `@latest` from a CDN, with no integrity check, into the origin of the back
    office (whose session it uses), and no page sent a Content-Security-Policy."""
    server = prod_server()
    for path in ("/api/docs", "/api/redoc", "/admin/login/"):
        page = requests.get(server.url + path, timeout=10)
        assert page.status_code == 200, path
        policy = page.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, (path, policy)
        sources = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["']([^"']+)""", page.text)
        assert all(not src.startswith(("http:", "https:", "//")) for src in sources), (path, sources)
        for src in sources:
            if src.endswith((".js", ".css")) or "script" in src:
                asset = requests.get(requests.compat.urljoin(server.url + path, src), timeout=10)
                assert asset.status_code == 200, (path, src)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", page.text), path  # no inline script


def test_a_number_inside_a_sip_call_id_is_masked_for_roles_without_view_pii(prod_server):
    """Found: a SIP trunk's `call_sid` (`+52…@sip.carrier`) reached the auditor's and the integration's API answers in
    clear, next to the masked `customer_number`."""
    server = prod_server()
    payload = fixture_json("elevenlabs_post_call_transcription.json")
    payload["data"]["metadata"]["phone_call"] = {
        "type": "sip_trunking",
        "call_sid": "+5215512340015@sip.carrier.example",
        "external_number": "+5215512340015",
        "agent_number": "+525500000000",
        "direction": "inbound",
    }
    raw = json.dumps(payload).encode()
    signature = elevenlabs_signature_compute(raw_body=raw, secret=ELEVENLABS_SECRET)
    response = requests.post(
        f"{server.url}/webhooks/elevenlabs/call",
        data=raw,
        headers={"Content-Type": "application/json", "ElevenLabs-Signature": signature},
        timeout=10,
    )
    assert response.json()["status"] == "processed", response.text
    interaction = Interaction.objects.get()
    for role in ("auditor", "integration"):
        key = make_api_key(role)
        detail = requests.get(
            f"{server.url}/api/interactions/{interaction.pk}", headers={"Authorization": f"Api-Key {key}"}, timeout=10
        )
        assert "5512340015" not in detail.text, role
        assert detail.json()["call_detail"]["call_sid"].endswith("@sip.carrier.example")
