"""A fake of the ElevenLabs conversations API on loopback, for tests and local reconciliation runs.

- `GET /v1/convai/conversations?cursor=&page_size=&call_start_after_unix=&call_start_before_unix=` →
  `{"conversations": [{agent_id, agent_name, conversation_id, start_time_unix_secs, call_duration_secs,
  message_count, status, call_successful}], "next_cursor": str | null, "has_more": bool}`, newest first.
- `GET /v1/convai/conversations/{id}` → the conversation (the post-call webhook's `data` model); 404 if unknown.
Every request must carry the `xi-api-key` header; a wrong one answers 401 like the real API.

    with FakeElevenLabs(api_key="k") as fake:
        fake.add_conversation(conversation)   # settings.ELEVENLABS_API_BASE_URL = fake.url
"""

from urllib.parse import unquote

from .fake_http import FakeServer, RecordedRequest

CONVERSATIONS_PATH = "/v1/convai/conversations"


class FakeElevenLabs(FakeServer):
    name = "fake-elevenlabs"

    def __init__(self, *, api_key: str = "fake-xi-api-key", host: str = "127.0.0.1", port: int = 0):
        super().__init__(host=host, port=port)
        self.api_key = api_key
        self.conversations: dict[str, dict] = {}

    def add_conversation(self, conversation: dict) -> None:
        with self._lock:
            self.conversations[conversation["conversation_id"]] = conversation

    def _summaries(self, query: dict) -> dict:
        page_size = min(int(query.get("page_size") or 30), 100)
        after = int(query["call_start_after_unix"]) if query.get("call_start_after_unix") else None
        before = int(query["call_start_before_unix"]) if query.get("call_start_before_unix") else None
        offset = int(query.get("cursor") or 0)
        with self._lock:
            items = list(self.conversations.values())
        items.sort(key=lambda c: (c.get("metadata", {}).get("start_time_unix_secs", 0), c["conversation_id"]))
        items.reverse()
        selected = []
        for conversation in items:
            metadata = conversation.get("metadata") or {}
            start = metadata.get("start_time_unix_secs", 0)
            if (after is not None and start < after) or (before is not None and start >= before):
                continue
            selected.append(
                {
                    "agent_id": conversation.get("agent_id"),
                    "agent_name": conversation.get("agent_name"),
                    "conversation_id": conversation["conversation_id"],
                    "start_time_unix_secs": start,
                    "call_duration_secs": metadata.get("call_duration_secs", 0),
                    "message_count": len(conversation.get("transcript") or []),
                    "status": conversation.get("status", "done"),
                    "call_successful": (conversation.get("analysis") or {}).get("call_successful", "unknown"),
                }
            )
        page = selected[offset : offset + page_size]
        more = offset + page_size < len(selected)
        return {"conversations": page, "next_cursor": str(offset + page_size) if more else None, "has_more": more}

    def handle(self, request: RecordedRequest) -> tuple[int, object, dict]:
        if request.headers.get("xi-api-key") != self.api_key:
            return 401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}, {}
        if request.method != "GET":
            return 405, {"detail": "Method Not Allowed"}, {}
        if request.path == CONVERSATIONS_PATH:
            return 200, self._summaries(request.query), {}
        if request.path.startswith(CONVERSATIONS_PATH + "/"):
            with self._lock:
                conversation = self.conversations.get(unquote(request.path[len(CONVERSATIONS_PATH) + 1 :]))
            if conversation is None:
                return 404, {"detail": {"status": "not_found", "message": "Conversation not found"}}, {}
            return 200, conversation, {}
        return 404, {"detail": "Not Found"}, {}
