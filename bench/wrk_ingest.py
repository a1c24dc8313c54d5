"""Webhook ingest measured with wrk (an outside load generator in C, light on the shared cores), beside the
project's own Python load generator: each provider's hot delivery against the one-INSERT ceiling, in the same run.

Every request carries a different body (bench/wrk/templated_post.lua fills a template per request), so nothing is a
duplicate: BuilderBot messages without an id (content-keyed, the ledger's window lock and conversation lock), Twilio
`delivered` callbacks for messages seeded with their SIDs, ElevenLabs post-call transcriptions of new calls."""

import json
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.stack import ACCOUNT_SID, ROOT, TOKENS

LUA = ROOT / "bench" / "wrk" / "templated_post.lua"
THREADS = 2


@dataclass(frozen=True)
class WrkScenario:
    name: str
    path: str
    content_type: str
    token: str
    template: str


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _builderbot_template() -> str:
    return json.dumps(
        {
            "eventName": "message.incoming",
            "data": {
                "body": "Hola, consulta {{uid}}",
                "name": "Cliente",
                "from": "{{phone}}",
                "attachment": [],
                "projectId": "bench-project",
            },
        }
    )


def _twilio_template() -> str:
    # Form-encoded; `{{uid}}` becomes the rest of a seeded SID (see twilio_sids).
    return (
        "MessageSid=SM{{uid}}&SmsSid=SM{{uid}}&MessageStatus=delivered&SmsStatus=delivered"
        f"&AccountSid={ACCOUNT_SID}&From=%2B15005550006&To=%2B5215512340000&ApiVersion=2010-04-01"
    )


def _elevenlabs_template() -> str:
    from simulators.simulate import SimulationOptions, _elevenlabs_transcription

    payload = _elevenlabs_transcription(SimulationOptions(conversation_id="conv_{{uid}}")).payload
    return json.dumps(payload)


SCENARIOS = {
    "ceiling": WrkScenario("ceiling", "/bench/ceiling", "text/plain", "-", "x"),
    "builderbot_message": WrkScenario(
        "builderbot_message",
        "/webhooks/builderbot/whatsapp",
        "application/json",
        TOKENS["BUILDERBOT_WEBHOOK_TOKEN"],
        "",
    ),
    "twilio_status": WrkScenario(
        "twilio_status",
        "/webhooks/twilio/sms/status",
        "application/x-www-form-urlencoded",
        TOKENS["TWILIO_WEBHOOK_TOKEN"],
        "",
    ),
    "elevenlabs_post_call": WrkScenario(
        "elevenlabs_post_call",
        "/webhooks/elevenlabs/call",
        "application/json",
        TOKENS["ELEVENLABS_WEBHOOK_TOKEN"],
        "",
    ),
}
TEMPLATES = {
    "builderbot_message": _builderbot_template,
    "twilio_status": _twilio_template,
    "elevenlabs_post_call": _elevenlabs_template,
}


def new_run_id() -> str:
    """8 hex characters: with the thread digit and the 23-digit counter, a 32-character SID tail (34 with `SM`)."""
    return secrets.token_hex(4)


def twilio_sids(run: str, per_thread: int) -> list[str]:
    """The SIDs the Lua script will send for `run` (thread t, counter 1..per_thread), to seed before the run."""
    return [f"SM{run}{thread}{counter:023d}" for thread in range(THREADS) for counter in range(1, per_thread + 1)]


_JSON_LINE = re.compile(r"^WRK_JSON (\{.*\})$", re.MULTILINE)


def run_wrk(*, web_url: str, scenario: str, connections: int, seconds: int, run: str) -> dict:
    """One wrk run; its summary as the report's rows have it (req/s, p50/p99 ms, errors)."""
    spec = SCENARIOS[scenario]
    template = spec.template or TEMPLATES[scenario]()
    with tempfile.NamedTemporaryFile("w", suffix=".tpl", delete=False) as handle:
        handle.write(template)
        template_path = handle.name
    try:
        completed = subprocess.run(
            [
                "wrk",
                f"-t{THREADS}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(LUA),
                f"{web_url}{spec.path}",
                "--",
                template_path,
                run,
                spec.content_type,
                spec.token,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
    finally:
        Path(template_path).unlink(missing_ok=True)
    match = _JSON_LINE.search(completed.stdout)
    if match is None:
        raise RuntimeError(f"wrk printed no summary:\n{completed.stdout}\n{completed.stderr}")
    raw = json.loads(match.group(1))
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    duration = raw["duration_us"] / 1e6
    return {
        "name": scenario,
        "generator": "wrk",
        "concurrency": connections,
        "requests": raw["requests"],
        "errors": errors,
        "throughput_rps": round(raw["requests"] / duration, 1) if duration else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p95_ms": round(raw["p95_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
    }
