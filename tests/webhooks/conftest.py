import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "providers"
ELEVENLABS_URL = "/webhooks/elevenlabs/call"
BUILDERBOT_URL = "/webhooks/builderbot/whatsapp"
TWILIO_URL = "/webhooks/twilio/sms/status"
ELEVENLABS_SECRET = "wsec_test_fixture_secret_do_not_use"
TWILIO_AUTH_TOKEN = "0123456789abcdef0123456789abcdef"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str):
    return json.loads(fixture_bytes(name))


def fixture_request(name: str) -> dict:
    return json.loads((FIXTURES / "_index.json").read_text())["files"][name]["request"]


@pytest.fixture(autouse=True)
def _webhook_settings(settings, tmp_path):
    """The test settings' tokens and fixture secrets, enforce mode, recordings in a temporary media root."""
    settings.ELEVENLABS_WEBHOOK_TOKENS = ["test-elevenlabs-token"]
    settings.ELEVENLABS_WEBHOOK_SECRETS = [ELEVENLABS_SECRET]
    settings.ELEVENLABS_SIGNATURE_MODE = "enforce"
    settings.BUILDERBOT_WEBHOOK_TOKENS = ["test-builderbot-token"]
    settings.TWILIO_WEBHOOK_TOKENS = ["test-twilio-token"]
    settings.TWILIO_AUTH_TOKEN = TWILIO_AUTH_TOKEN
    settings.TWILIO_SIGNATURE_MODE = "enforce"
    settings.PUBLIC_BASE_URL = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings


def post_json(client, url: str, body, *, headers: dict | None = None, content_type: str = "application/json"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(url, data=raw, content_type=content_type, headers=headers or {})


def elevenlabs_headers(raw: bytes, *, secret: str = ELEVENLABS_SECRET, timestamp: int | None = None) -> dict:
    from interactions.providers.elevenlabs import elevenlabs_signature_compute

    return {"ElevenLabs-Signature": elevenlabs_signature_compute(raw_body=raw, secret=secret, timestamp=timestamp)}


class _Server:
    def __init__(self, url: str):
        self.url = url


@pytest.fixture
def wsgi_server(transactional_db):
    """The real WSGI application (contactcenter.wsgi, with its chunked-body middleware) on a threaded loopback server
    with a listen backlog deep enough for bursts of concurrent deliveries. Each request thread closes its database
    connection when done."""
    import threading

    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    from contactcenter.wsgi import application

    class Handler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    class Server(ThreadedWSGIServer):
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Handler, allow_reuse_address=False)
    server.set_app(application)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield _Server(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
