"""What the fake provider servers share: a threaded HTTP server on loopback, a record of every request, and a queue of
misbehaviours (errors, hangs, dropped connections) applied to the next requests that ask for them."""

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Behaviour:
    """How the fake answers one request instead of normally.

    kind: `error` (answer `status` with `body` and `headers`, change nothing), `hang` (wait `delay` seconds, then
    answer 504 having changed nothing), `accept_then_hang` (do the work, then wait `delay` seconds before answering:
    a client with a shorter timeout never learns it worked), `drop` (close the connection without an answer, having
    changed nothing)."""

    kind: str
    status: int = 500
    body: object = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    # When the request arrived (time.time(), read before the body is handled): what latency benchmarks measure to.
    received_at: float = 0.0
    # The client's address and port: requests with the same `peer` came over one kept-alive connection.
    peer: str = ""

    @property
    def form(self) -> dict:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def json(self):
        return json.loads(self.body or b"null")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # dropped connections are part of the act
        pass


class FakeServer:
    """Base of the fakes. Subclasses implement `handle(request) -> (status, body, headers)` and name the requests a
    behaviour applies to with `behaviour_applies(request)`."""

    name = "fake"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0):
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._behaviours: list[Behaviour] = []
        # A time window during which every concerned request gets the next behaviour of a cycle.
        self._window_until = 0.0
        self._window_cycle: list[Behaviour] = []
        self._window_position = 0
        self.requests: list[RecordedRequest] = []
        # Open client connections (kept alive between requests): closed by `stop`, as a server that goes away does.
        self._connections: set[socket.socket] = set()
        # Every misbehaviour applied, in order: what a test counts as the retries it caused.
        self.misbehaved: list[tuple[RecordedRequest, Behaviour]] = []

    # --- lifecycle ------------------------------------------------------------------------------------------
    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The answer goes out in two writes (headers, then body): with Nagle's algorithm on, the body would wait
            # for the client's delayed ACK of the headers, 40 ms per request on a kept-alive connection. A real
            # provider's server does not stall so.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet: tests read `fake.requests` instead
                pass

            def setup(self):
                super().setup()
                with fake._lock:
                    fake._connections.add(self.connection)

            def finish(self):
                with fake._lock:
                    fake._connections.discard(self.connection)
                super().finish()

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received_at = time.time()
                parts = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    received_at=received_at,
                    peer=f"{self.client_address[0]}:{self.client_address[1]}",
                )
                with fake._lock:
                    fake.requests.append(request)
                behaviour = fake._next_behaviour(request)
                if behaviour is not None and behaviour.kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if behaviour is not None and behaviour.kind == "hang":
                    time.sleep(behaviour.delay)
                    self._answer(504, {"message": "gateway timeout"}, {})
                    return
                if behaviour is not None and behaviour.kind == "error":
                    self._answer(behaviour.status, behaviour.body, behaviour.headers)
                    return
                status, payload, headers = fake.handle(request)
                if behaviour is not None and behaviour.kind == "accept_then_hang":
                    time.sleep(behaviour.delay)
                try:
                    self._answer(status, payload, headers)
                except OSError:
                    pass  # the client gave up waiting

            def _answer(self, status, payload, headers):
                if isinstance(payload, bytes | str):
                    data = payload.encode() if isinstance(payload, str) else payload
                    content_type = "text/html; charset=utf-8"
                else:
                    data = json.dumps(payload).encode()
                    content_type = "application/json"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, str(value))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._server = _QuietServer(self._address, Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and close the kept-alive connections too (their threads would otherwise go on answering)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        """For the command line: run until interrupted."""
        if self._server is None:
            self.start()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            self.stop()

    # --- misbehaviour ---------------------------------------------------------------------------------------
    def fail_next(self, *behaviours: Behaviour) -> None:
        """Apply these behaviours, in order, to the next requests they concern (see `behaviour_applies`)."""
        with self._lock:
            self._behaviours.extend(behaviours)

    def misbehave_for(self, seconds: float, *behaviours: Behaviour) -> None:
        """For the next `seconds`, answer every concerned request with the next of `behaviours`, in a cycle (an outage
        lasts a time, not a number of requests). Behaviours queued with `fail_next` come first."""
        with self._lock:
            self._window_until = time.monotonic() + seconds
            self._window_cycle = list(behaviours)
            self._window_position = 0

    def misbehave_stop(self) -> None:
        with self._lock:
            self._window_until = 0.0
            self._window_cycle = []

    def _next_behaviour(self, request: RecordedRequest) -> Behaviour | None:
        with self._lock:
            if not self.behaviour_applies(request):
                return None
            behaviour = None
            if self._behaviours:
                behaviour = self._behaviours.pop(0)
            elif self._window_cycle and time.monotonic() < self._window_until:
                behaviour = self._window_cycle[self._window_position % len(self._window_cycle)]
                self._window_position += 1
            if behaviour is not None:
                self.misbehaved.append((request, behaviour))
            return behaviour

    def behaviour_applies(self, request: RecordedRequest) -> bool:
        return True

    def handle(self, request: RecordedRequest) -> tuple[int, object, dict]:
        raise NotImplementedError
