"""A fake Twilio Messages API on loopback, speaking the real formats (2010-04-01 API, `.json` paths, form-encoded
bodies, HTTP Basic auth with the account SID and auth token), for tests, the simulator and benchmarks.

- `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` creates a message (`queued`, or `accepted` with a
  MessagingServiceSid) and answers 201 with the message resource;
- `GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json` fetches one, `GET .../Messages.json?To=...` lists them
  newest first (one page);
- after a create with a `StatusCallback`, the message walks through `progression` (by default queued → sent →
  delivered), and each step is posted to the callback URL form-encoded and signed with `X-Twilio-Signature`, as Twilio
  does; without a callback URL the steps are applied silently;
- `fail_next(...)` queues misbehaviours for the next creates: Twilio's error bodies (`twilio_error`), 429 with
  `Retry-After`, 5xx, non-JSON bodies, hangs, accept-then-hang (the message exists but the client times out), drops;
  `misbehave_for(seconds, ...)` applies them in a cycle to every create during a time window (an outage, slow sends
  with `slow_accept`); `misbehaved` lists what was applied;
- `create_arrivals` holds, by SID, when each create arrived (to measure an SMS from our API's answer to the provider).

Run alone: `python -m simulators.fake_twilio --port 8081` (prints its URL; point TWILIO_API_BASE_URL at it).
"""

import argparse
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime

import requests
from twilio.request_validator import RequestValidator

from simulators.fake_http import Behaviour, FakeServer, RecordedRequest

DEFAULT_ACCOUNT_SID = "ACtest00000000000000000000000000"
DEFAULT_AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
_ERROR_TEXTS = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    21211: "The 'To' number is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number.",
    21610: "Attempt to send to unsubscribed recipient",
    21604: "A 'To' phone number is required.",
}


def twilio_error(code: int, status: int = 400, *, shape: str = "legacy", retry_after: float | None = None) -> Behaviour:
    """A Twilio error answer: `legacy` `{code, message, more_info, status}`, `rfc9457` `{type, title, status, code,
    detail}`, `errors` `{errors: [{code, message, ...}]}`, or `html` (a proxy's page, not JSON)."""
    text = _ERROR_TEXTS.get(code, f"Error {code}")
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    if shape == "rfc9457":
        body: object = {"type": more_info, "title": text, "status": status, "code": code, "detail": text}
    elif shape == "errors":
        body = {"errors": [{"code": code, "message": text, "infoUrl": more_info, "context": {}}]}
    elif shape == "html":
        body = f"<html><body><h1>{status}</h1>upstream error</body></html>"
    else:
        body = {"code": code, "message": text, "more_info": more_info, "status": status}
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Behaviour(kind="error", status=status, body=body, headers=headers)


def too_many_requests(*, retry_after: float | None = None, shape: str = "legacy") -> Behaviour:
    return twilio_error(20429, 429, shape=shape, retry_after=retry_after)


def server_error(status: int = 503) -> Behaviour:
    return Behaviour(kind="error", status=status, body="<html><body>Service Unavailable</body></html>")


def accept_then_hang(delay: float) -> Behaviour:
    """The message is created, but the answer comes only after `delay` seconds (longer than the client waits)."""
    return Behaviour(kind="accept_then_hang", delay=delay)


def slow_accept(delay: float) -> Behaviour:
    """The message is created at once and the answer comes `delay` seconds later (a slow API, within the client's
    timeout): a client that dies meanwhile never learns the message exists."""
    return Behaviour(kind="accept_then_hang", delay=delay)


def hang(delay: float) -> Behaviour:
    return Behaviour(kind="hang", delay=delay)


def drop() -> Behaviour:
    return Behaviour(kind="drop")


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True).replace("GMT", "+0000")


class FakeTwilio(FakeServer):
    name = "fake-twilio"

    def __init__(
        self,
        *,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        progression: tuple[str, ...] = ("queued", "sent", "delivered"),
        callback_delay: float = 0.05,
        send_callbacks: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        super().__init__(host=host, port=port)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.progression = progression
        self.callback_delay = callback_delay
        self.send_callbacks = send_callbacks
        self.messages: dict[str, dict] = {}
        # When each message's create arrived (time.time()), by SID: benchmarks measure an SMS's latency up to here.
        self.create_arrivals: dict[str, float] = {}
        # (sid, status, url, HTTP status of our answer or the error class)
        self.callbacks: list[tuple[str, str, str, object]] = []
        self._threads: list[threading.Thread] = []

    # --- what tests look at ---------------------------------------------------------------------------------
    @property
    def create_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/Messages.json")]

    def set_status(self, sid: str, status: str, *, error_code: int | None = None) -> None:
        """Change a message's status on the fake's side only (no callback): what the reconciler will fetch."""
        with self._lock:
            resource = self.messages[sid]
            resource["status"] = status
            resource["error_code"] = error_code
            resource["date_updated"] = _rfc2822(datetime.now(UTC))

    def wait_for_callbacks(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(deadline - time.monotonic(), 0))

    def behaviour_applies(self, request: RecordedRequest) -> bool:
        return request.method == "POST" and request.path.endswith("/Messages.json")

    # --- the API --------------------------------------------------------------------------------------------
    def _authorized(self, request: RecordedRequest) -> bool:
        import base64

        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return secrets.compare_digest(request.headers.get("authorization", ""), f"Basic {expected}")

    def handle(self, request: RecordedRequest):
        prefix = f"/2010-04-01/Accounts/{self.account_sid}/Messages"
        if not self._authorized(request):
            return 401, {"code": 20003, "message": "Authenticate", "more_info": "", "status": 401}, {}
        if request.method == "POST" and request.path == prefix + ".json":
            return self._create(request)
        if request.method == "GET" and request.path == prefix + ".json":
            return self._list(request)
        if request.method == "GET" and request.path.startswith(prefix + "/") and request.path.endswith(".json"):
            sid = request.path[len(prefix) + 1 : -len(".json")]
            with self._lock:
                resource = self.messages.get(sid)
                resource = dict(resource) if resource else None
            if resource is None:
                return 404, twilio_error(20404, 404).body, {}
            return 200, resource, {}
        return 404, twilio_error(20404, 404).body, {}

    def _create(self, request: RecordedRequest):
        form = request.form
        to = form.get("To", "")
        if not to:
            return 400, twilio_error(21604).body, {}
        if not (form.get("Body") or form.get("MediaUrl")):
            return 400, {"code": 21602, "message": "Message body is required.", "status": 400}, {}
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return 400, {"code": 21603, "message": "A 'From' phone number is required.", "status": 400}, {}
        sid = "SM" + uuid.uuid4().hex
        now = _rfc2822(datetime.now(UTC))
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"
        resource = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From") or None,
            "messaging_service_sid": form.get("MessagingServiceSid") or None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if form.get("MessagingServiceSid") and not form.get("From") else "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": to,
            "uri": uri,
        }
        with self._lock:
            self.messages[sid] = resource
            self.create_arrivals[sid] = request.received_at
        answer = dict(resource)
        callback = form.get("StatusCallback", "")
        thread = threading.Thread(target=self._progress, args=(sid, callback), daemon=True)
        self._threads.append(thread)
        thread.start()
        return 201, answer, {}

    def _list(self, request: RecordedRequest):
        to = request.query.get("To")
        page_size = int(request.query.get("PageSize") or 50)
        with self._lock:
            found = [dict(m) for m in reversed(self.messages.values()) if not to or m["to"] == to][:page_size]
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        return (
            200,
            {
                "messages": found,
                "end": max(len(found) - 1, 0),
                "first_page_uri": f"{base}?PageSize={page_size}&Page=0",
                "next_page_uri": None,
                "page": 0,
                "page_size": page_size,
                "previous_page_uri": None,
                "start": 0,
                "uri": f"{base}?PageSize={page_size}&Page=0",
            },
            {},
        )

    # --- status progression and signed callbacks ------------------------------------------------------------
    def _progress(self, sid: str, callback: str) -> None:
        for status in self.progression:
            time.sleep(self.callback_delay)
            with self._lock:
                resource = self.messages[sid]
                resource["status"] = status
                resource["date_updated"] = _rfc2822(datetime.now(UTC))
                if status == "sent":
                    resource["date_sent"] = resource["date_updated"]
                if status in ("failed", "undelivered") and not resource["error_code"]:
                    resource["error_code"] = 30003
                snapshot = dict(resource)
            if callback and self.send_callbacks:
                self.post_status_callback(callback, snapshot)

    def callback_params(self, resource: dict) -> dict:
        params = {
            "MessageSid": resource["sid"],
            "SmsSid": resource["sid"],
            "MessageStatus": resource["status"],
            "SmsStatus": resource["status"],
            "AccountSid": self.account_sid,
            "To": resource["to"],
            "From": resource["from"] or "+15005550006",
            "ApiVersion": "2010-04-01",
        }
        if resource.get("messaging_service_sid"):
            params["MessagingServiceSid"] = resource["messaging_service_sid"]
        if resource.get("error_code"):
            params["ErrorCode"] = str(resource["error_code"])
        return params

    def post_status_callback(self, url: str, resource: dict) -> object:
        """Post one signed status callback, as Twilio does. Returns our webhook's HTTP status (or the error)."""
        params = self.callback_params(resource)
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        headers = {
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": uuid.uuid4().hex,
            "User-Agent": "TwilioProxy/1.1",
        }
        try:
            answer: object = requests.post(url, data=params, headers=headers, timeout=10).status_code
        except requests.RequestException as exc:
            answer = type(exc).__name__
        with self._lock:
            self.callbacks.append((resource["sid"], resource["status"], url, answer))
        return answer


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake Twilio Messages API on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--no-callbacks", action="store_true", help="do not post status callbacks")
    parser.add_argument("--callback-delay", type=float, default=0.5)
    args = parser.parse_args()
    fake = FakeTwilio(
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        send_callbacks=not args.no_callbacks,
        callback_delay=args.callback_delay,
        host=args.host,
        port=args.port,
    ).start()
    print(fake.url, flush=True)
    fake.serve_forever()


if __name__ == "__main__":
    main()
