"""Realistic, correctly authenticated provider deliveries, for `manage.py simulate_webhook` and tests.

Each (provider, event) has a builder registered with `@simulation(...)`; other apps (the voice tools, for instance)
register their own events the same way. A builder returns the path and the body; `simulation_request` adds what
authenticates it with the settings in force (token header, ElevenLabs HMAC, Twilio signature)."""

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings

from interactions.providers.elevenlabs import elevenlabs_signature_compute
from interactions.providers.twilio.callbacks import status_callback_signature_compute


@dataclass(frozen=True)
class SimulationOptions:
    phone: str = "+5215512345678"
    our_number: str = "+5215587654321"
    conversation_id: str = ""
    message_sid: str = ""
    message_id: str = ""
    text: str = ""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SimulatedBody:
    path: str
    payload: dict | list
    form: bool = False  # form-encoded (Twilio) instead of JSON


@dataclass(frozen=True)
class SimulatedRequest:
    url: str
    body: bytes
    headers: dict


SIMULATIONS: dict[str, dict[str, Callable[[SimulationOptions], SimulatedBody]]] = {}


def simulation(provider: str, event: str):
    """Register a builder of one simulated delivery."""

    def register(builder: Callable[[SimulationOptions], SimulatedBody]):
        SIMULATIONS.setdefault(provider, {})[event] = builder
        return builder

    return register


# Exchanges of several requests (`simulate_webhook elevenlabs tool-otp`): a runner(options, write) that returns what
# the steps answered and raises ValueError when one fails.
SCENARIOS: dict[str, dict[str, Callable]] = {}


def scenario(provider: str, event: str):
    """Register a runner of a simulated exchange of several requests."""

    def register(runner: Callable):
        SCENARIOS.setdefault(provider, {})[event] = runner
        return runner

    return register


def _conversation_id(options: SimulationOptions) -> str:
    return options.conversation_id or f"conv_sim_{secrets.token_hex(10)}"


# --- ElevenLabs ---------------------------------------------------------------------------------------------------
ELEVENLABS_PATH = "/webhooks/elevenlabs/call"
BUILDERBOT_PATH = "/webhooks/builderbot/whatsapp"
TWILIO_PATH = "/webhooks/twilio/sms/status"


@simulation("elevenlabs", "post_call_transcription")
def _elevenlabs_transcription(options: SimulationOptions) -> SimulatedBody:
    now = int(time.time())
    start = now - 95
    conversation_id = _conversation_id(options)
    data = {
        "agent_id": "agent_simulated_0001",
        "agent_name": "Simulated agent",
        "conversation_id": conversation_id,
        "status": "done",
        "user_id": None,
        "transcript": [
            {
                "role": "agent",
                "message": "Thank you for calling. How can I help?",
                "time_in_call_secs": 0,
                "tool_calls": [],
                "tool_results": [],
                "feedback": None,
                "conversation_turn_metrics": None,
            },
            {
                "role": "user",
                "message": options.text or "I would like to know my balance.",
                "time_in_call_secs": 4,
                "tool_calls": None,
                "tool_results": None,
                "feedback": None,
                "conversation_turn_metrics": None,
            },
            {
                "role": "agent",
                "message": "Your balance has been sent to you by SMS.",
                "time_in_call_secs": 12,
                "tool_calls": [],
                "tool_results": [],
                "feedback": None,
                "conversation_turn_metrics": None,
            },
        ],
        "metadata": {
            "start_time_unix_secs": start,
            "call_duration_secs": 95,
            "cost": 480,
            "termination_reason": "Client disconnected: 1000",
            "main_language": "en",
            "phone_call": {
                "type": "twilio",
                "direction": "inbound",
                "phone_number_id": "PN_simulated",
                "agent_number": options.our_number,
                "external_number": options.phone,
                "stream_sid": "MZ" + secrets.token_hex(16),
                "call_sid": "CA" + secrets.token_hex(16),
            },
        },
        "analysis": {
            "call_successful": "success",
            "transcript_summary": "The caller asked for their balance, which was sent by SMS.",
            "call_summary_title": "Balance enquiry",
            "evaluation_criteria_results": {},
            "data_collection_results": {"intent": {"data_collection_id": "intent", "value": "balance"}},
        },
        "conversation_initiation_client_data": {"dynamic_variables": {"system__caller_id": options.phone}},
        "has_audio": True,
    }
    return SimulatedBody(ELEVENLABS_PATH, {"type": "post_call_transcription", "event_timestamp": now, "data": data})


@simulation("elevenlabs", "post_call_audio")
def _elevenlabs_audio(options: SimulationOptions) -> SimulatedBody:
    import base64

    # A tiny valid-looking MP3: an ID3 header and one silent frame header.
    audio = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 413
    data = {
        "agent_id": "agent_simulated_0001",
        "conversation_id": _conversation_id(options),
        "full_audio": base64.b64encode(audio).decode(),
    }
    return SimulatedBody(
        ELEVENLABS_PATH, {"type": "post_call_audio", "event_timestamp": int(time.time()), "data": data}
    )


@simulation("elevenlabs", "call_initiation_failure")
def _elevenlabs_initiation_failure(options: SimulationOptions) -> SimulatedBody:
    data = {
        "agent_id": "agent_simulated_0001",
        "conversation_id": _conversation_id(options),
        "failure_reason": "no-answer",
        "metadata": {
            "type": "twilio",
            "body": {
                "CallSid": "CA" + secrets.token_hex(16),
                "CallStatus": "no-answer",
                "Direction": "outbound-api",
                "To": options.phone,
                "From": options.our_number,
                "SipResponseCode": "487",
                "Duration": "0",
                "Timestamp": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
            },
        },
    }
    payload = {"type": "call_initiation_failure", "event_timestamp": int(time.time()), "data": data}
    return SimulatedBody(ELEVENLABS_PATH, payload)


# --- BuilderBot ---------------------------------------------------------------------------------------------------
def _builderbot(event: str, options: SimulationOptions, body: str) -> SimulatedBody:
    data = {
        "body": body,
        "name": "Simulated Customer",
        "from": options.phone.lstrip("+"),
        "attachment": [],
        "projectId": settings.BUILDERBOT_PROJECT_ID or "simulated-project",
    }
    if options.message_id:
        data["id"] = options.message_id
    if event == "message.outgoing":
        data["answer"] = body
    return SimulatedBody(BUILDERBOT_PATH, {"eventName": event, "data": data})


@simulation("builderbot", "message.incoming")
def _builderbot_incoming(options: SimulationOptions) -> SimulatedBody:
    return _builderbot("message.incoming", options, options.text or f"Hello, I need help ({secrets.token_hex(3)})")


@simulation("builderbot", "message.outgoing")
def _builderbot_outgoing(options: SimulationOptions) -> SimulatedBody:
    return _builderbot("message.outgoing", options, options.text or "Sure, how can I help you today?")


@simulation("builderbot", "message.calling")
def _builderbot_calling(options: SimulationOptions) -> SimulatedBody:
    body = _builderbot("message.calling", options, "")
    data = {k: v for k, v in body.payload["data"].items() if k in ("from", "name", "projectId")}
    return SimulatedBody(BUILDERBOT_PATH, {"eventName": "message.calling", "data": data})


# --- Twilio -------------------------------------------------------------------------------------------------------
def _twilio_status(word: str, error_code: str = ""):
    def build(options: SimulationOptions) -> SimulatedBody:
        sid = options.message_sid or "SM" + secrets.token_hex(16)
        form = {
            "SmsSid": sid,
            "SmsStatus": word,
            "MessageStatus": word,
            "MessageSid": sid,
            "AccountSid": settings.TWILIO_ACCOUNT_SID or "AC" + "0" * 32,
            "From": settings.TWILIO_FROM_NUMBER or options.our_number,
            "To": options.phone,
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            form["ErrorCode"] = error_code
        if word in ("delivered", "undelivered"):
            form["RawDlrDoneDate"] = time.strftime("%y%m%d%H%M", time.gmtime())
        return SimulatedBody(TWILIO_PATH, form, form=True)

    return build


for _word, _code in (("queued", ""), ("sent", ""), ("delivered", ""), ("undelivered", "30003"), ("failed", "30008")):
    simulation("twilio", _word)(_twilio_status(_word, _code))


# --- authentication and sending -----------------------------------------------------------------------------------
def simulation_request(
    provider: str, event: str, *, base_url: str, options: SimulationOptions | None = None
) -> SimulatedRequest:
    """The URL, body and headers of a delivery as the provider would send it, authenticated with our settings."""
    try:
        builder = SIMULATIONS[provider][event]
    except KeyError:
        known = ", ".join(f"{p} {e}" for p in sorted(SIMULATIONS) for e in sorted(SIMULATIONS[p]))
        raise ValueError(f"unknown simulation {provider} {event}; known: {known}") from None
    built = builder(options or SimulationOptions())
    url = base_url.rstrip("/") + built.path
    headers = {"User-Agent": f"contactcenter-simulator/{provider}"}
    if built.form:
        body = urlencode(built.payload).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    else:
        body = json.dumps(built.payload, ensure_ascii=False).encode()
        headers["Content-Type"] = "application/json"
    tokens = {
        "elevenlabs": settings.ELEVENLABS_WEBHOOK_TOKENS,
        "builderbot": settings.BUILDERBOT_WEBHOOK_TOKENS,
        "twilio": settings.TWILIO_WEBHOOK_TOKENS,
    }.get(provider, [])
    if tokens:
        headers["X-Webhook-Token"] = tokens[0]
    if provider == "elevenlabs" and settings.ELEVENLABS_WEBHOOK_SECRETS:
        headers["ElevenLabs-Signature"] = elevenlabs_signature_compute(
            raw_body=body, secret=settings.ELEVENLABS_WEBHOOK_SECRETS[0]
        )
    if provider == "twilio" and settings.TWILIO_AUTH_TOKEN and built.form:
        signed_url = (settings.PUBLIC_BASE_URL or base_url.rstrip("/")) + built.path
        headers["X-Twilio-Signature"] = status_callback_signature_compute(
            url=signed_url, params=built.payload, auth_token=settings.TWILIO_AUTH_TOKEN
        )
        headers["I-Twilio-Idempotency-Token"] = secrets.token_hex(16)
    return SimulatedRequest(url=url, body=body, headers=headers)
