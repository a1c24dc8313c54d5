"""Chunked request bodies (ElevenLabs' post-call audio) reach Django whole: the WSGI middleware, and gunicorn."""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection

from contactcenter.common.chunked import ChunkedBodyMiddleware
from interactions.models import CallDetail
from webhooks.models import InteractionEvent

from .conftest import ELEVENLABS_SECRET, ELEVENLABS_URL, elevenlabs_headers, fixture_bytes

ROOT = Path(__file__).resolve().parents[2]


def _run(environ: dict) -> tuple[str, bytes, dict]:
    seen: dict = {}

    def app(env, start_response):
        seen["body"] = env["wsgi.input"].read(int(env.get("CONTENT_LENGTH") or 0))
        seen["length"] = env.get("CONTENT_LENGTH")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    status = {}

    def start_response(value, headers):
        status["value"] = value

    body = b"".join(ChunkedBodyMiddleware(app)(environ, start_response))
    return status["value"], body, seen


def _chunked(data: bytes, size: int = 7) -> bytes:
    parts = [
        f"{len(data[i : i + size]):x}\r\n".encode() + data[i : i + size] + b"\r\n" for i in range(0, len(data), size)
    ]
    return b"".join(parts) + b"0\r\nX-Trailer: 1\r\n\r\n"


def test_a_chunked_body_is_decoded_and_given_a_content_length():
    data = b'{"type": "post_call_audio", "data": {}}'
    status, _, seen = _run({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(_chunked(data))})
    assert status.startswith("200")
    assert seen == {"body": data, "length": str(len(data))}


def test_a_body_the_server_already_de_chunked_is_read_to_its_end():
    data = b"x" * 200_000
    environ = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(data), "wsgi.input_terminated": True}
    _, _, seen = _run(environ)
    assert seen["body"] == data


def test_requests_with_a_content_length_are_left_alone():
    environ = {"CONTENT_LENGTH": "3", "wsgi.input": io.BytesIO(b"abcdef")}
    _, _, seen = _run(environ)
    assert seen["body"] == b"abc"


def test_an_oversized_chunked_body_is_413_and_a_malformed_one_400(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    status, body, _ = _run({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(_chunked(b"y" * 500))})
    assert status.startswith("413")
    assert json.loads(body)["errors"][0]["code"] == "payload_too_large"
    status, _, _ = _run({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(b"zz\r\nabc")})
    assert status.startswith("400")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_a_signed_chunked_post_call_audio(tmp_path):
    port = _free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contactcenter.test_settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "ELEVENLABS_WEBHOOK_SECRET": ELEVENLABS_SECRET,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "CONN_MAX_AGE": "0",
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "contactcenter.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        raw = fixture_bytes("elevenlabs_post_call_audio.json")
        headers = {"Content-Type": "application/json", **elevenlabs_headers(raw)}
        response = requests.post(
            f"http://127.0.0.1:{port}{ELEVENLABS_URL}",
            data=(raw[i : i + 50] for i in range(0, len(raw), 50)),  # a generator: Transfer-Encoding: chunked
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "processed"
        event = InteractionEvent.objects.get()
        assert event.headers.get("Transfer-Encoding") == "chunked"
        assert CallDetail.objects.get().has_audio is True
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    assert django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE >= 3 * 1024 * 1024
