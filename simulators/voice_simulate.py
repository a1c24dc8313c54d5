"""Simulated voice agent requests for `manage.py simulate_webhook`.

Single requests, posted to a running server like the other simulations:
    simulate_webhook elevenlabs initiation --conversation-id conv_1 --phone +5215512345678
    simulate_webhook elevenlabs tool-otp-send --conversation-id conv_1
    simulate_webhook elevenlabs tool-otp-verify --conversation-id conv_1 --text "1 2 3 4 5 6"
The whole exchange, run locally (the app served on a free loopback port in this process, a fake Twilio receiving the
SMS, tasks run in-process, against the configured database):
    simulate_webhook elevenlabs tool-otp
initiation → send → the SMS reaches the fake Twilio → verify with the code spelled "1 2 3 4 5 6" → post-call webhook.
The code itself is never printed."""

import json
import re
import secrets
import threading
import time

import requests
from django.conf import settings

from .simulate import (
    SimulatedBody,
    SimulationOptions,
    _conversation_id,
    scenario,
    simulation,
    simulation_request,
)

INITIATION_PATH = "/webhooks/elevenlabs/initiation"
SEND_PATH = "/webhooks/elevenlabs/tools/otp/send"
VERIFY_PATH = "/webhooks/elevenlabs/tools/otp/verify"


def _initiation_payload(options: SimulationOptions, conversation_id: str) -> dict:
    return {
        "caller_id": options.phone,
        "agent_id": "agent_simulated_0001",
        "called_number": options.our_number,
        "call_sid": "CA" + secrets.token_hex(16),
        "conversation_id": conversation_id,
    }


@simulation("elevenlabs", "initiation")
def _initiation(options: SimulationOptions) -> SimulatedBody:
    return SimulatedBody(INITIATION_PATH, _initiation_payload(options, _conversation_id(options)))


@simulation("elevenlabs", "tool-otp-send")
def _tool_send(options: SimulationOptions) -> SimulatedBody:
    return SimulatedBody(SEND_PATH, {"conversation_id": _conversation_id(options), "caller_id": options.phone})


@simulation("elevenlabs", "tool-otp-verify")
def _tool_verify(options: SimulationOptions) -> SimulatedBody:
    payload = {"conversation_id": _conversation_id(options), "caller_id": options.phone, "code": options.text or "0"}
    return SimulatedBody(VERIFY_PATH, payload)


def _tool_headers() -> dict:
    token = (settings.ELEVENLABS_TOOL_TOKENS or settings.ELEVENLABS_WEBHOOK_TOKENS or [""])[0]
    return {"Content-Type": "application/json", "X-Webhook-Token": token} if token else {}


@scenario("elevenlabs", "tool-otp")
def _tool_otp_exchange(options: SimulationOptions, write) -> dict:
    """Run the whole exchange locally; returns what the steps answered (raises ValueError when one fails)."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.test.utils import override_settings

    from contactcenter.celery import app as celery_app
    from contactcenter.wsgi import application
    from interactions.models import Interaction
    from simulators.fake_twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilio

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    account_sid = settings.TWILIO_ACCOUNT_SID or DEFAULT_ACCOUNT_SID
    auth_token = settings.TWILIO_AUTH_TOKEN or DEFAULT_AUTH_TOKEN
    fake = FakeTwilio(account_sid=account_sid, auth_token=auth_token).start()
    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
    server.set_app(application)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    conversation_id = _conversation_id(options)
    tokens = settings.ELEVENLABS_WEBHOOK_TOKENS or ["simulated-voice-token"]
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    answers: dict = {"conversation_id": conversation_id}
    try:
        with override_settings(
            SMS_BACKEND="auto",
            TWILIO_API_BASE_URL=fake.url,
            TWILIO_ACCOUNT_SID=account_sid,
            TWILIO_AUTH_TOKEN=auth_token,
            TWILIO_FROM_NUMBER=settings.TWILIO_FROM_NUMBER or "+15005550006",
            PUBLIC_BASE_URL=base_url,
            ELEVENLABS_WEBHOOK_TOKENS=tokens,
            ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "127.0.0.1"],
        ):

            def post(step: str, path: str, payload: dict) -> dict:
                response = requests.post(base_url + path, json=payload, headers=_tool_headers(), timeout=30)
                if response.status_code != 200:
                    raise ValueError(f"{step}: HTTP {response.status_code} {response.text[:300]}")
                answers[step] = response.json()
                write(f"{step}: {json.dumps(answers[step], ensure_ascii=False)}")
                return answers[step]

            post("initiation", INITIATION_PATH, _initiation_payload(options, conversation_id))
            tool = {"conversation_id": conversation_id, "caller_id": options.phone}
            if post("send", SEND_PATH, tool).get("result") != "sent":
                raise ValueError("send: no code was sent")
            deadline = time.monotonic() + 30
            while not fake.create_requests and time.monotonic() < deadline:
                time.sleep(0.1)
            if not fake.create_requests:
                raise ValueError("the SMS never reached the fake Twilio")
            body = fake.create_requests[-1].form.get("Body", "")
            found = re.search(r"\b(\d{6,10})\b", body)
            if not found:
                raise ValueError("no code in the SMS the fake Twilio received")
            write(f"sms: the fake Twilio received the code for {answers['send'].get('masked_phone')} (not shown)")
            spelled = " ".join(found.group(1))
            if post("verify", VERIFY_PATH, {**tool, "code": spelled}).get("result") != "approved":
                raise ValueError("verify: the code was not approved")
            post_call = simulation_request(
                "elevenlabs",
                "post_call_transcription",
                base_url=base_url,
                options=SimulationOptions(phone=options.phone, conversation_id=conversation_id),
            )
            answered = requests.post(post_call.url, data=post_call.body, headers=post_call.headers, timeout=30)
            answers["post_call"] = answered.json() if answered.status_code == 200 else {"http": answered.status_code}
            write(f"post_call: {json.dumps(answers['post_call'])}")
            fake.wait_for_callbacks(timeout=10)
        call = Interaction.objects.filter(
            provider=settings.ELEVENLABS_PROVIDER_NAME, external_id=conversation_id
        ).first()
        answers["interaction"] = {
            "id": str(call.pk) if call else "",
            "status": call.status if call else "",
            "verified_at": call.verified_at.isoformat() if call and call.verified_at else "",
            "verified_by_challenge_id": str(call.verified_by_challenge_id or "") if call else "",
        }
        write(f"interaction: {json.dumps(answers['interaction'])}")
    finally:
        celery_app.conf.task_always_eager = eager
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        fake.stop()
    return answers
