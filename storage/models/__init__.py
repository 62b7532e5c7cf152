"""Typed tables, one module per aggregate; the foundation's live in ``core``."""

from storage.models.core import (
    OPEN_STATES,
    Conversation,
    ConversationState,
    Customer,
    Event,
    FaqEntryRow,
    Message,
    PhraseTemplate,
    Sender,
    ShopSetting,
)
from storage.models.inbox import InboxUpdate

__all__ = [
    "OPEN_STATES",
    "Conversation",
    "ConversationState",
    "Customer",
    "Event",
    "FaqEntryRow",
    "InboxUpdate",
    "Message",
    "PhraseTemplate",
    "Sender",
    "ShopSetting",
]
