"""The ElevenLabs conversations API, used to reconcile calls whose post-call webhook never reached us.

`GET /v1/convai/conversations` (cursor pagination, `call_start_after_unix`) and `GET /v1/convai/conversations/{id}`,
authenticated with the `xi-api-key` header. The detail follows the same model as the post-call transcription
webhook's `data`, so it goes through the same adapter."""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import requests

from .webhook import POST_CALL_TRANSCRIPTION, _dict, _int, _text, _timestamp

LIST_PAGE_SIZE = 100  # the API's maximum


class ElevenLabsApiError(Exception):
    """The API could not be reached or answered with an error."""

    def __init__(self, detail: str, *, http_status: int | None = None):
        super().__init__(detail)
        self.http_status = http_status


@dataclass(frozen=True)
class ConversationSummary:
    conversation_id: str
    status: str
    started_at: datetime | None
    agent_id: str = ""


class ElevenLabsConversationsClient:
    def __init__(self, *, api_key: str, base_url: str, timeout: float = 10.0, session: requests.Session | None = None):
        if not api_key:
            raise ElevenLabsApiError("ELEVENLABS_API_KEY is not set")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.update({"xi-api-key": api_key, "Accept": "application/json"})

    def _get(self, path: str, params: dict | None = None) -> dict:
        try:
            response = self.session.get(self.base_url + path, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ElevenLabsApiError(f"ElevenLabs API unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise ElevenLabsApiError(
                f"ElevenLabs API answered {response.status_code} for {path.split('?', maxsplit=1)[0]}",
                http_status=response.status_code,
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise ElevenLabsApiError("ElevenLabs API answered something that is not JSON") from exc
        if not isinstance(body, dict):
            raise ElevenLabsApiError("ElevenLabs API answered JSON that is not an object")
        return body

    def conversations_list(
        self, *, since: datetime, until: datetime | None = None, max_pages: int = 100
    ) -> Iterator[ConversationSummary]:
        """Every conversation that started at or after `since` (and before `until`), following the cursor."""
        params: dict = {"page_size": LIST_PAGE_SIZE, "call_start_after_unix": int(since.timestamp())}
        if until is not None:
            params["call_start_before_unix"] = int(until.timestamp())
        for _ in range(max_pages):
            body = self._get("/v1/convai/conversations", params)
            for item in body.get("conversations") or []:
                if not isinstance(item, dict) or not _text(item.get("conversation_id")):
                    continue
                yield ConversationSummary(
                    conversation_id=_text(item.get("conversation_id")),
                    status=_text(item.get("status")).lower(),
                    started_at=_timestamp(item.get("start_time_unix_secs")),
                    agent_id=_text(item.get("agent_id")),
                )
            cursor = _text(body.get("next_cursor"))
            if not body.get("has_more") or not cursor:
                return
            params = {**params, "cursor": cursor}

    def conversation_get(self, conversation_id: str) -> dict:
        return self._get(f"/v1/convai/conversations/{quote(conversation_id, safe='')}")


def conversation_as_webhook_payload(conversation: dict) -> dict:
    """A fetched conversation wrapped as the post-call transcription webhook would have carried it."""
    metadata = _dict(conversation.get("metadata"))
    start = _int(metadata.get("start_time_unix_secs"))
    duration = _int(metadata.get("call_duration_secs")) or 0
    return {
        "type": POST_CALL_TRANSCRIPTION,
        "event_timestamp": (start + duration) if start else int(time.time()),
        "data": conversation,
    }
