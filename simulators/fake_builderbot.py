"""A fake BuilderBot Cloud send API on loopback: `POST /api/v2/{projectId}/messages` with the `x-api-builderbot` key
and the JSON body `{"messages": {"content", "mediaUrl"?}, "number", "checkIfExists"}`. Answers 200 with a small JSON
body (the real body is undocumented; the adapter must not rely on it), 401 for a wrong key, 404 for another project,
400 for a body without a number or content. `fail_next(...)` queues misbehaviours (see simulators.fake_http).

Run alone: `python -m simulators.fake_builderbot --port 8082` (prints its URL; point BUILDERBOT_API_URL at it).
"""

import argparse
import secrets
import uuid

from simulators.fake_http import Behaviour, FakeServer, RecordedRequest

DEFAULT_API_KEY = "bb-00000000-0000-4000-8000-000000000000"
DEFAULT_PROJECT_ID = "00000000-0000-4000-8000-000000000001"


def builderbot_error(status: int, message: str = "error", headers: dict | None = None) -> Behaviour:
    return Behaviour(kind="error", status=status, body={"message": message}, headers=headers or {})


class FakeBuilderBot(FakeServer):
    name = "fake-builderbot"

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        project_id: str = DEFAULT_PROJECT_ID,
        success_status: int = 200,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        super().__init__(host=host, port=port)
        self.api_key = api_key
        self.project_id = project_id
        self.success_status = success_status
        self.sent: list[dict] = []

    @property
    def send_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/messages")]

    def behaviour_applies(self, request: RecordedRequest) -> bool:
        return request.method == "POST" and request.path.endswith("/messages")

    def handle(self, request: RecordedRequest):
        if not secrets.compare_digest(request.headers.get("x-api-builderbot", ""), self.api_key):
            return 401, {"message": "Unauthorized"}, {}
        if request.method != "POST" or request.path != f"/api/v2/{self.project_id}/messages":
            return 404, {"message": "Not found"}, {}
        try:
            payload = request.json()
        except ValueError:
            return 400, {"message": "Invalid JSON"}, {}
        messages = payload.get("messages") if isinstance(payload, dict) else None
        number = payload.get("number") if isinstance(payload, dict) else None
        if not isinstance(messages, dict) or not number or not (messages.get("content") or messages.get("mediaUrl")):
            return 400, {"message": "number and messages.content are required"}, {}
        with self._lock:
            self.sent.append(payload)
        return self.success_status, {"status": "sent", "id": uuid.uuid4().hex}, {}


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake BuilderBot Cloud send API on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--project-id", default=DEFAULT_PROJECT_ID)
    args = parser.parse_args()
    fake = FakeBuilderBot(api_key=args.api_key, project_id=args.project_id, host=args.host, port=args.port).start()
    print(fake.url, flush=True)
    fake.serve_forever()


if __name__ == "__main__":
    main()
