"""Business rules of interactions, messages and calls. Views, tasks, webhooks and commands call these.

One module per concern; everything public is re-exported here, so callers write `from interactions.services import …`.
"""

from .conversations import (
    CONVERSATION_IDLE_TIMEOUT,
    OPEN_STATUSES,
    channel_provider,
    interaction_open_or_continue,
    interaction_touch,
)
from .messages import MessageStatusChange, message_send, message_status_apply

__all__ = [
    "CONVERSATION_IDLE_TIMEOUT",
    "OPEN_STATUSES",
    "MessageStatusChange",
    "channel_provider",
    "interaction_open_or_continue",
    "interaction_touch",
    "message_send",
    "message_status_apply",
]
