"""Schemathesis against the live OpenAPI schema: every operation, with valid credentials, a bounded number of
generated requests each. No 5xx, and every response conforms to the schema (status, content type, body)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiKey

from .helpers import make_interaction

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "5"))
PHASES = os.environ.get("SCHEMATHESIS_PHASES", "examples,fuzzing,stateful")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def _config(api_key: str) -> str:
    webhook_tokens = {
        "/webhooks/elevenlabs/call": settings.ELEVENLABS_WEBHOOK_TOKENS[0],
        "/webhooks/builderbot/whatsapp": settings.BUILDERBOT_WEBHOOK_TOKENS[0],
        "/webhooks/twilio/sms/status": settings.TWILIO_WEBHOOK_TOKENS[0],
    }
    lines = [f'headers = {{ Authorization = "Api-Key {api_key}" }}', ""]
    for path, token in webhook_tokens.items():
        lines += ["[[operations]]", f'include-path = "{path}"', f'headers = {{ X-Webhook-Token = "{token}" }}', ""]
    return "\n".join(lines)


# One run per part of the API, so a failure names the part (and its owner) at once.
PARTS = {
    "interactions-audit-metrics-auth": (r"^/api/(interactions|audit-logs|metrics|auth|health)", r"/messages$"),
    "messages": (r"^/api/interactions/\{id\}/messages$", None),
    "otp": (r"^/api/otp", None),
    "webhooks": (r"^/webhooks/", None),
}


@pytest.mark.parametrize("part", PARTS)
def test_the_live_api_conforms_to_its_schema(part, live_server, tmp_path, monkeypatch, transactional_db):
    # Generous throttles: the run makes many requests from one client in a few seconds.
    rates = dict.fromkeys(SimpleRateThrottle.THROTTLE_RATES, "100000/min")
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    for n in range(3):
        make_interaction(external_id=f"SM{n:032d}", customer_phone=f"+52155123456{n:02d}")
    _, key = ApiKey.objects.create_key(name="schemathesis", role="supervisor")
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(key))
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    command = [
        st,
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{live_server.url}/api/schema",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        PHASES,
        "--seed",
        "20261125",
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "20",
        "--max-failures",
        "20",
        "--include-path-regex",
        PARTS[part][0],
    ]
    if PARTS[part][1]:
        command += ["--exclude-path-regex", PARTS[part][1]]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
