"""Schemathesis over the live OpenAPI schema, as each role, against the product served as production serves it
(gunicorn, DEBUG off, PostgreSQL, Redis).

Every check Schemathesis has (all fourteen: server errors, status codes, content types, headers and bodies against the
schema, invalid data refused and valid data taken, required headers, undeclared methods and `Allow`, use after free,
resources available once created, authentication enforced, and one client's objects hidden from another), the phases
examples, coverage, fuzzing and stateful (the schema's links, declared and inferred, chain a created OTP challenge into
its read, cancel and verify, and an interaction from the list into its detail, its change and its messages). A bounded
number of examples per operation (SCHEMATHESIS_MAX_EXAMPLES), a fixed seed, no example database.

Each role is one run with two identities of that role, peers whose objects must stay apart (API keys for supervisor,
auditor and integration; JWTs of console users for agent and supervisor); the public endpoints (sign-in, health,
provider webhooks and the voice agent's tools) are one run of their own. A failure names the role and the parts of the
API it was found in."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from django.conf import settings

from interactions.models import Interaction
from tests.factories import PASSWORD, InteractionFactory, UserFactory

from .conftest import make_api_key, totp_device, totp_now

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "3"))
STATEFUL_EXAMPLES = int(os.environ.get("SCHEMATHESIS_STATEFUL_EXAMPLES", "20"))
STATEFUL_STEPS = int(os.environ.get("SCHEMATHESIS_STATEFUL_STEPS", "10"))
PHASES = os.environ.get("SCHEMATHESIS_PHASES", "examples,coverage,fuzzing,stateful")
SEED = "20261125"
ST = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"

# Generous limits: a run makes hundreds of requests from one client in a few seconds. The limits themselves are
# tested elsewhere (tests/api/test_throttling.py, tests/otp, tests/security/test_sign_in.py).
SERVER_ENV = {
    "THROTTLE_RATE_OTP": "100000/min",
    "THROTTLE_RATE_READS": "100000/min",
    "THROTTLE_RATE_WRITES": "100000/min",
    "THROTTLE_RATE_AUTH": "100000/min",
    "OTP_RATE_LIMIT_MAX": "100000",
    "LOGIN_FAILURE_LIMIT": "100000",
}

# The parts of the API (and so who to ask about a failure), by path.
PARTS = {
    "interactions": r"^/api/interactions",
    "otp": r"^/api/otp",
    "audit": r"^/api/audit-logs",
    "metrics": r"^/api/metrics",
    "auth": r"^/api/auth/",
    "health": r"^/api/health",
    "webhooks": r"^/webhooks/(builderbot|twilio|elevenlabs/call)",
    "voice-tools": r"^/webhooks/elevenlabs/(tools|initiation)",
}
# What each role's runs cover, one run each: a run's stateful phase follows the links among its operations.
GROUPS = {
    "interactions-audit-metrics": r"^/api/(interactions|audit-logs|metrics)",
    "otp": r"^/api/otp",
}
PUBLIC = r"^/api/(auth/|health)|^/webhooks/"
# Each role as its clients reach the API.
ROLES = ("supervisor", "auditor", "integration", "agent-jwt", "supervisor-jwt")

PHONES = ["+5215512345678", "+525587654321", "+14155550123", "+447911123456", "+5511987654321", "+34612345678"]

# What a check cannot know about an operation, said per operation with its reason. Only `positive_data_acceptance`
# is widened, and only by the 4xx that a request the schema admits gets for a reason no schema can say (a number
# that is no phone of its country, a wrong code, the state of the resource); never a 5xx, and every other check still
# applies to these answers (their status documented, their body in the schema).
POSITIVE = ["2xx", "401", "403", "404", "409", "429"]  # Schemathesis' default for the check, less 3xx and 5xx
OPERATIONS = {
    "otp_create": {
        "positive": [*POSITIVE, "400"],
        "reason": "a string may be no valid number for its country, or a country outside OTP_ALLOWED_COUNTRIES",
    },
    "otp_verify": {
        "positive": [*POSITIVE, "400", "410"],
        "reason": "a well-formed code may be the wrong one (400, the contract's answer), or the challenge expired (410)",
    },
    "api_interactions_list": {
        "positive": [*POSITIVE, "400"],
        "reason": "`phone` must be a whole number of a real country (the phone library decides, not a pattern)",
    },
    "api_interactions_partial_update": {
        "positive": [*POSITIVE, "400"],
        "reason": "status moves follow the interaction's current status; the agent id must name an agent",
    },
    "api_interactions_messages_create": {
        "positive": [*POSITIVE, "400"],
        "reason": "the interaction's channel decides: calls cannot be messaged, media is WhatsApp only",
    },
    "api_metrics_summary_retrieve": {
        "positive": [*POSITIVE, "400"],
        "reason": "date_from must not be after date_to (today by default) nor the range longer than 366 days",
    },
    "api_metrics_daily_retrieve": {
        "positive": [*POSITIVE, "400"],
        "reason": "date_from must not be after date_to (today by default) nor the range longer than 366 days",
    },
    "api_audit_logs_list": {
        "positive": [*POSITIVE, "400"],
        "reason": "target_id is read within a target_type, which must come with it",
    },
}
# The voice agent's endpoints answer every body with 200 and a `result` the agent reads (ElevenLabs hides a tool's
# errors from the agent): only a bad token is refused.
VOICE_TOOLS = (
    "webhooks_elevenlabs_tool_otp_send",
    "webhooks_elevenlabs_tool_otp_verify",
    "webhooks_elevenlabs_initiation",
)


def _webhook_tokens() -> dict[str, str]:
    elevenlabs = settings.ELEVENLABS_WEBHOOK_TOKENS[0]
    return {
        "webhooks_elevenlabs_call": elevenlabs,
        "webhooks_elevenlabs_tool_otp_send": elevenlabs,
        "webhooks_elevenlabs_tool_otp_verify": elevenlabs,
        "webhooks_elevenlabs_initiation": elevenlabs,
        "webhooks_builderbot_whatsapp": settings.BUILDERBOT_WEBHOOK_TOKENS[0],
        "webhooks_twilio_sms_status": settings.TWILIO_WEBHOOK_TOKENS[0],
    }


# --- the callers and their data -------------------------------------------------------------------------------------
_phones = iter(range(100_000))


def _interaction(external_id: str, *, agent=None, channel: str = "sms") -> Interaction:
    return InteractionFactory(
        channel=channel,
        direction="inbound",
        external_id=external_id,
        customer_phone=f"+52155{next(_phones):08d}",
        assigned_agent=agent,
    )


def _jwt(server, username: str, otp_token: str = "") -> str:
    body = {"username": username, "password": PASSWORD, **({"otp_token": otp_token} if otp_token else {})}
    response = requests.post(f"{server.url}/api/auth/token", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access"]


def _identities(role: str, server) -> dict[str, str]:
    """{name: Authorization header} of two identities of `role`: peers that must not see each other's objects (OTP
    challenges; an agent's interactions)."""
    identities = {}
    for peer in ("a", "b"):
        name = f"{role}-{peer}"
        if role == "agent-jwt":  # console users sign in with the password and their authenticator's code
            agent = UserFactory(username=name, roles=["agent"])
            for channel in ("sms", "whatsapp", "call"):
                _interaction(f"{name}-{channel}", agent=agent, channel=channel)
            identities[name] = f"Bearer {_jwt(server, name, totp_now(totp_device(agent)))}"
        elif role == "supervisor-jwt":
            user = UserFactory(username=name, roles=["supervisor"], staff=True)
            identities[name] = f"Bearer {_jwt(server, name, totp_now(totp_device(user)))}"
        else:
            identities[name] = f"Api-Key {make_api_key(role, name)}"
    return identities


# --- the run --------------------------------------------------------------------------------------------------------
def _config(tmp_path: Path, identities: dict[str, str]) -> Path:
    names = list(identities)
    entries = [{"name": n, "fixedHeaders": [{"name": "Authorization", "value": v}]} for n, v in identities.items()]
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps({"auth": entries}))
    lines = [
        # Every check (what `--checks all` selects), here so that an operation below can still turn one off.
        "[checks]",
        "enabled = true",
        "",
        # Examples per operation, and (worth more than single requests) stateful scenarios, each a chain of calls.
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        "# no NUL in generated strings: a JSON body holding one is refused by design (PostgreSQL text cannot store it)",
        "allow-x00 = false",
        "",
        # Real numbers for most OTP requests (a random string is rarely a phone number of its country), so that
        # challenges get created and the stateful phase follows them into read, cancel and verify.
        "[dictionaries.phones]",
        f"values = {json.dumps(PHONES)}",
        "",
        "[parameters]",
        '"body.phone" = { dictionary = "phones", probability = 0.8 }',
        '"query.phone" = { dictionary = "phones", probability = 0.5 }',
        "",
        "[phases.stateful]",
        f"max-steps = {STATEFUL_STEPS}",
        "",
        # The schema's own links only: inferred ones would add a cancel -> read link, and make canceling a (stale)
        # challenge the only way into the OTP chains.
        "[phases.stateful.inference]",
        "algorithms = []",
        "",
        "[phases.stateful.generation]",
        f"max-examples = {STATEFUL_EXAMPLES}",
        "",
        # The first identity makes the requests; the other is replayed on what the first one owns.
        "[auth.wfc]",
        f"path = {json.dumps(str(auth_file))}",
        f"user = {json.dumps(names[0])}",
        f"peers = {json.dumps(names)}",
        "",
    ]
    tokens = _webhook_tokens()
    for operation_id in sorted({*OPERATIONS, *tokens}):
        lines += ["[[operations]]", f'include-operation-id = "{operation_id}"']
        if operation_id in tokens:
            lines.append(f'headers = {{ X-Webhook-Token = "{tokens[operation_id]}" }}')
        if operation_id in OPERATIONS:
            statuses = json.dumps(OPERATIONS[operation_id]["positive"])
            lines += [
                f"# {OPERATIONS[operation_id]['reason']}",
                f"checks.positive_data_acceptance.expected-statuses = {statuses}",
            ]
        if operation_id in VOICE_TOOLS:
            lines += [
                "# by design every body is answered 200 with a `result` for the agent; only a bad token is a 401",
                "checks.negative_data_rejection.enabled = false",
            ]
        lines.append("")
    config = tmp_path / "schemathesis.toml"
    config.write_text("\n".join(lines))
    return config


def _run(server, tmp_path: Path, identities: dict[str, str], paths: str) -> tuple[int, str, float, dict]:
    command = [
        ST, "--no-color", "--config-file", str(_config(tmp_path, identities)), "run", f"{server.url}/api/schema",
        "--phases", PHASES, "--seed", SEED, "--generation-database", "none",
        "--workers", "1", "--request-timeout", "20", "--max-failures", "50", "--include-path-regex", paths,
        "--report", "ndjson", "--report-ndjson-path", str(tmp_path / "events.ndjson"),
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    elapsed = time.monotonic() - started
    return result.returncode, result.stdout + result.stderr, elapsed, _linked_calls(tmp_path / "events.ndjson")


def _failing_parts(output: str) -> list[str]:
    """The parts of the API named by the headings of the report's failures (`___ POST /api/otp ___`)."""
    paths = re.findall(r"^_{3,} (?:[A-Z]+ )?(/\S*) _{3,}$", output, re.M)
    parts = {name for path in paths for name, pattern in PARTS.items() if re.match(pattern, path)}
    return sorted(parts) or ["(see the report)"]


def _stateful_summary(output: str) -> str:
    match = re.search(r"Stateful \(.*?\)\s+Scenarios:\s+(\d+)\s+API Links:\s+([^\n]+)", output, re.S)
    return f"{match.group(1)} scenarios, links {match.group(2).strip()}" if match else "no stateful phase"


def _linked_calls(events: Path) -> dict[str, Counter]:
    """{link: statuses} of the stateful phase's calls whose parameters or body a link took from an earlier answer."""
    linked: dict[str, Counter] = {}
    for line in events.read_text().splitlines() if events.exists() else []:
        finished = json.loads(line).get("ScenarioFinished") or {}
        recorder = finished.get("recorder", {})
        if finished.get("phase") != "stateful":
            continue
        for case_id, case in recorder.get("cases", {}).items():
            if case.get("transition") and case.get("is_transition_applied"):
                response = (recorder.get("interactions", {}).get(case_id) or {}).get("response") or {}
                linked.setdefault(case["transition"]["id"], Counter())[response.get("status_code")] += 1
    return linked


def _check(who: str, code: int, output: str, elapsed: float, linked: dict[str, Counter]) -> None:
    cases = re.search(r"(\d+) generated", output)
    print(  # the run's numbers
        f"\nschemathesis {who}: {elapsed:.1f}s, {cases.group(1) if cases else '?'} test cases, "
        f"stateful: {_stateful_summary(output)}"
    )
    for link, statuses in sorted(linked.items()):
        print(f"    {dict(sorted(statuses.items()))} {link}")
    if os.environ.get("SCHEMATHESIS_SHOW_OUTPUT"):
        print(output)
    assert code == 0, f"Schemathesis failed as {who}, in {', '.join(_failing_parts(output))}:\n{output}"


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("role", ROLES)
def test_the_api_conforms_to_its_schema_for_each_role(role, group, prod_server, tmp_path):
    server = prod_server(SERVER_ENV)
    for channel in ("sms", "whatsapp", "call"):
        _interaction(f"unassigned-{channel}", channel=channel)
    identities = _identities(role, server)
    code, output, elapsed, linked = _run(server, tmp_path, identities, GROUPS[group])
    _check(f"{role} ({group})", code, output, elapsed, linked)
    if "stateful" in PHASES and not (role == "auditor" and group == "otp"):  # auditors create no challenge
        # The stateful phase chained real calls: an answer's id fed a next request that succeeded.
        assert any(status < 300 for statuses in linked.values() for status in statuses if status), linked


def test_the_public_endpoints_conform_to_their_schema(prod_server, tmp_path):
    server = prod_server(SERVER_ENV)
    _check("anyone (public endpoints)", *_run(server, tmp_path, _identities("integration", server), PUBLIC))
