"""ElevenLabs server tools and the conversation initiation webhook: reading their requests, shaping the answer.

Only this module knows their field names (providers.md §1.8, §1.9). A server tool's body is the JSON object our tool
definition's `request_body_schema` describes, without an envelope; values may come as strings, numbers or null (the
LLM fills some of them). The initiation request is `{caller_id, agent_id, called_number, call_sid}`, newer ones add
`conversation_id`, SIP calls `call_id` and `sip_headers`; on WhatsApp `caller_id` is a WhatsApp user id and
`call_sid` is "". Nothing here raises on odd input: a missing or unreadable value is "".
"""

from dataclasses import dataclass

INITIATION_RESPONSE_TYPE = "conversation_initiation_client_data"


def _text(value: object, limit: int = 128) -> str:
    if value is None or isinstance(value, bool | dict | list):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()[:limit]


def _unbound(value: str) -> str:
    """A dynamic variable ElevenLabs left unsubstituted (`{{system__caller_id}}`) is no value at all."""
    return "" if value.startswith("{{") and value.endswith("}}") else value


def _first(payload: dict, *names: str, limit: int = 128) -> str:
    for name in names:
        value = _unbound(_text(payload.get(name), limit))
        if value:
            return value
    return ""


@dataclass(frozen=True)
class VoiceToolRequest:
    """What a voice agent's tool call tells us. `caller_id` and `conversation_id` come from the call itself (bound to
    `system__caller_id` / `system__conversation_id`); `spoken_phone`, `code` and `language` come from the LLM."""

    conversation_id: str = ""
    caller_id: str = ""
    spoken_phone: str = ""
    code: object = None  # as received: "1 2 3 4 5 6", "123-456", 123456, ["123", "456"]…
    language: str = ""


def voice_tool_request_parse(payload: object) -> VoiceToolRequest:
    if not isinstance(payload, dict):
        return VoiceToolRequest()
    code = payload.get("code")
    if code is None:
        code = payload.get("otp_code", payload.get("digits"))
    return VoiceToolRequest(
        conversation_id=_first(payload, "conversation_id", "system__conversation_id"),
        caller_id=_first(payload, "caller_id", "system__caller_id", limit=64),
        spoken_phone=_first(payload, "phone_number", "spoken_phone_number", limit=64),
        code=code,
        language=_first(payload, "language", limit=16),
    )


@dataclass(frozen=True)
class InitiationRequest:
    """An inbound conversation about to start. On outbound calls ElevenLabs swaps the roles (caller_id is our line)."""

    caller_id: str = ""
    called_number: str = ""
    call_sid: str = ""
    call_id: str = ""  # SIP
    conversation_id: str = ""
    agent_id: str = ""

    @property
    def is_phone_call(self) -> bool:
        """A telephone call (Twilio, SIP…), not a WhatsApp or SMS conversation, which come with an empty call_sid."""
        return bool(self.call_sid or self.call_id)


def initiation_request_parse(payload: object) -> InitiationRequest:
    if not isinstance(payload, dict):
        return InitiationRequest()
    return InitiationRequest(
        caller_id=_first(payload, "caller_id", limit=64),
        called_number=_first(payload, "called_number", limit=64),
        call_sid=_first(payload, "call_sid", "callSid"),
        call_id=_first(payload, "call_id"),
        conversation_id=_first(payload, "conversation_id"),
        agent_id=_first(payload, "agent_id"),
    )


def initiation_response_build(*, dynamic_variables: dict) -> dict:
    """The answer ElevenLabs expects: every dynamic variable the agent defines, and nothing else (no overrides)."""
    return {"type": INITIATION_RESPONSE_TYPE, "dynamic_variables": dynamic_variables}
