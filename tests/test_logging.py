import json
import logging

from contactcenter.common.logging import JsonFormatter, RequestIdFilter, ScrubFilter
from contactcenter.common.pii import phone_mask, phone_normalize


def _render(message, *args, **extra) -> dict:
    record = logging.LogRecord("test", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    assert ScrubFilter().filter(record)
    RequestIdFilter().filter(record)
    return json.loads(JsonFormatter("%(message)s").format(record))


def test_phone_numbers_in_messages_are_masked():
    line = _render("sending to +5215512345678 and 5491112345678 now")
    assert "5512345678" not in json.dumps(line)
    assert "+52*******5678" in line["message"]
    assert "1112345678" not in line["message"]


def test_phone_numbers_in_format_arguments_are_masked():
    line = _render("customer %s called", "+14155550100")
    assert "4155550100" not in json.dumps(line)


def test_sensitive_extra_fields_are_redacted():
    line = _render(
        "otp",
        code="123456",
        token="abc",
        secret="s3",
        password="pw",
        auth_token="t",
        status_code=200,
        error_code="30003",
    )
    for key in ("code", "token", "secret", "password", "auth_token"):
        assert line[key] == "[REDACTED]"
    assert line["status_code"] == 200
    assert line["error_code"] == "30003"
    assert "123456" not in json.dumps(line)


def test_nested_extra_data_is_scrubbed():
    line = _render("payload", data={"From": "+14155550100", "nested": {"api_key": "k-1"}})
    dumped = json.dumps(line)
    assert "4155550100" not in dumped and "k-1" not in dumped


def test_secrets_inside_text_are_redacted():
    line = _render("GET /webhooks/twilio/sms/status?token=supersecret and code=654321")
    assert "supersecret" not in line["message"] and "654321" not in line["message"]


def test_phone_helpers():
    assert phone_normalize("5491112345678@s.whatsapp.net") == "+5491112345678"
    assert phone_normalize("whatsapp:+14155550100") == "+14155550100"
    assert phone_normalize("+52 1 55 1234 5678") == "+525512345678"  # Mexico's legacy mobile form, canonical
    assert phone_mask("+5215512344321") == "+52*******4321"
    assert phone_mask("+15551234567") == "+1******4567"
    assert phone_mask("+442071234567") == "+44******4567"
    # Not an international number (a trunk or exit prefix left in): nothing shown but the last four.
    assert phone_mask("0015551234567") == "+0********4567"


def test_uuids_and_hex_ids_are_not_taken_for_phone_numbers():
    line = _render("message f83ff81e-d331-4c84-97fe-123456788086 and 12345678-abcd-4c84-97fe-aaaaaaaaaaaa sent")
    assert "f83ff81e-d331-4c84-97fe-123456788086" in line["message"]
    assert "12345678-abcd-4c84-97fe-aaaaaaaaaaaa" in line["message"]


def test_dates_times_and_versions_in_log_lines_are_not_taken_for_phone_numbers():
    line = _render(
        "twilio api 2010-04-01 at 2026-11-25T12:00:00Z, done 2026-07-25T17:24:08.000000+00:00 from 10.0.0.12"
    )
    assert line["message"] == (
        "twilio api 2010-04-01 at 2026-11-25T12:00:00Z, done 2026-07-25T17:24:08.000000+00:00 from 10.0.0.12"
    )


def test_a_date_in_parentheses_is_not_taken_for_a_phone_number_but_a_number_in_parentheses_is():
    line = _render("received a naive datetime (2026-11-01 00:00:00) while time zone support is active (5215512345678)")
    assert line["message"] == (
        "received a naive datetime (2026-11-01 00:00:00) while time zone support is active +52*******5678)"
    )


def test_a_number_under_a_phone_key_is_masked_even_as_a_json_number():
    line = _render("called", phone=5215512345678, event_timestamp=1785000260)
    assert line["phone"] == "+52*******5678"
    assert line["event_timestamp"] == 1785000260


def _format_through_handler(logger_name: str, emit) -> str:
    """What the configured handler (scrub and request-id filters, JSON formatter) writes for the records `emit` logs."""
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(ScrubFilter())
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return stream.getvalue()


def test_tracebacks_stacks_and_logged_objects_are_scrubbed_whatever_formats_them():
    class Request:
        def __repr__(self):
            return "<WSGIRequest: GET '/api/interactions?phone=%2B5215512345678'>"

    def emit(logger):
        try:
            raise ValueError('Failing row contains {"to_phone": "+5215512345678"}')
        except ValueError:
            logger.exception("failed", extra={"request": Request()})
        logger.info("here", stack_info=True, extra={"error": ValueError("to 5215512345678")})

    text = _format_through_handler("tests.logging.scrub", emit)
    assert "5512345678" not in text and "%2B52155" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert "+52*******5678" in lines[0]["exc_info"] and "Traceback" in lines[0]["exc_info"]
    assert "+52*******5678" in lines[0]["request"]
    assert "stack_info" in lines[1]
