"""Floods: one shopper's burst of messages is answered once and shown to agents as one post.

Why: a shopper sending 60 messages in a burst got 60 answers, and the agents' group got a
copy and a "→ shopper" line for each; Telegram lets a group take about 20 messages a minute,
so every other shopper's topic waited minutes behind one flood (P2 for everyone else).

The rule reads the messages table, not memory: every message is stored before it is
answered, so counting a shopper's messages in the window before one of them gives the same
answer in any process, on redelivery and on resume. A message stored just now has its count
from the intake's first read (the conversation and the shopper's messages in the window, one
statement); a redelivered or resumed one counts again (:func:`burst_of`).

Up to ``FLOOD_BURST`` messages in ``FLOOD_WINDOW`` are answered one by one; the next one
gets a single "we read them all" reply and a ``flood`` event for the owner's reports; further
ones are stored and shown to the agents in one collapsed post per window, not answered one
by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from phrases.staff import StaffWords
from storage.models import Message
from storage.repositories import Repo

FLOOD_WINDOW = timedelta(seconds=10)
FLOOD_BURST = 8  # a person typing fast sends a few short lines; more in the window is a flood
DIGEST_LINE = 200  # characters of one message in the collapsed post
DIGEST_LIMIT = 3500  # the collapsed post stays well under Telegram's 4,096


@dataclass(frozen=True)
class Burst:
    """How many of the shopper's messages fell in the window ending at this one."""

    size: int

    @property
    def quiet(self) -> bool:
        """Part of a flood: stored and collapsed for the agents, not answered on its own."""
        return self.size > FLOOD_BURST

    @property
    def first(self) -> bool:
        """The message that starts the flood: the one that gets the single reply."""
        return self.size == FLOOD_BURST + 1


async def burst_of(repo: Repo, message: Message, known: int | None = None) -> Burst:
    """``known``: the count the intake read as it stored ``message`` (None: count now)."""
    if known is not None:
        return Burst(known)
    return Burst(await repo.conversations.burst_size(message, FLOOD_WINDOW))


def digest_text(messages: list[Message], w: StaffWords) -> str:
    """One post listing a flood's messages (text trimmed, media named), bounded in length,
    in the agents' words (staff phrases flood.*)."""
    head = w("flood.head", count=len(messages))
    lines: list[str] = []
    used = len(head)
    for i, message in enumerate(messages):
        text = (" ".join(message.text.split()) if message.text
                else w("flood.media", kind=w.label("kind", message.kind)))
        line = "• " + (text if len(text) <= DIGEST_LINE else text[:DIGEST_LINE] + "…")
        if used + len(line) + 1 > DIGEST_LIMIT:
            lines.append(w("flood.more", count=len(messages) - i))
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join([head, *lines])
