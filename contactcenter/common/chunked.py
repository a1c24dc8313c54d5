"""WSGI middleware that makes chunked request bodies readable by Django.

Django wraps `wsgi.input` in a stream limited to CONTENT_LENGTH, so a request sent with `Transfer-Encoding: chunked`
and no Content-Length (ElevenLabs' post-call audio) reads as an empty body, and its HMAC fails. This middleware reads
such a body up front (bounded by DATA_UPLOAD_MAX_MEMORY_SIZE), hands Django a buffered copy and sets CONTENT_LENGTH.

- Servers that de-chunk the body themselves and say so with `wsgi.input_terminated` (gunicorn, mod_wsgi): the input
  is read to its end.
- Others (the development server): the chunked framing is decoded here.
A body over the limit is answered 413 in the JSON error shape, before Django runs."""

import io
import json
from collections.abc import Callable, Iterable
from typing import IO

from django.conf import settings


class BodyTooLarge(Exception):
    pass


def _read_terminated(stream: IO[bytes], limit: int) -> bytes:
    buffer = bytearray()
    while True:
        chunk = stream.read(64 * 1024)
        if not chunk:
            return bytes(buffer)
        buffer += chunk
        if len(buffer) > limit:
            raise BodyTooLarge


def _read_chunked(stream: IO[bytes], limit: int) -> bytes:
    buffer = bytearray()
    while True:
        line = stream.readline(1024)
        if not line:
            raise ValueError("chunked body ended early")
        size_text = line.split(b";", 1)[0].strip()
        size = int(size_text, 16)
        if size == 0:
            while stream.readline(1024) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return bytes(buffer)
        if len(buffer) + size > limit:
            raise BodyTooLarge
        data = stream.read(size)
        if len(data) != size:
            raise ValueError("chunked body ended early")
        buffer += data
        stream.readline(8)  # the CRLF after each chunk


class ChunkedBodyMiddleware:
    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 50 * 1024 * 1024
            stream = environ["wsgi.input"]
            try:
                if environ.get("wsgi.input_terminated"):
                    body = _read_terminated(stream, limit)
                else:
                    body = _read_chunked(stream, limit)
            except BodyTooLarge:
                return self._error(
                    start_response,
                    "413 Request Entity Too Large",
                    "payload_too_large",
                    "The body is larger than accepted.",
                )
            except ValueError:
                return self._error(start_response, "400 Bad Request", "bad_request", "Malformed chunked body.")
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input_terminated"] = True
        return self.application(environ, start_response)

    @staticmethod
    def _error(start_response: Callable, status: str, code: str, detail: str) -> Iterable[bytes]:
        body = json.dumps({"type": "client_error", "errors": [{"code": code, "detail": detail, "attr": None}]}).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")]
        )
        return [body]
