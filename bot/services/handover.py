"""Handover between shifts (P13): written when a shift ends, shown when the next one starts.

The record holds what shoppers asked during the shift grouped by FAQ entry or topic, every
conversation still open (queued or with an agent), and the notes agents left with /handover.
``shift_tick`` is idempotent: the database says which records exist and who saw them, so a
job that runs every minute (or runs late after a restart) never posts twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services import shifts as sh
from bot.services.availability import on_duty_agents
from bot.services.lifecycle import Lifecycle
from bot.services.staff import agent_names, calendar_enabled
from phrases.staff import StaffWords
from storage.models import Conversation, ConversationState, Customer, Message, Sender
from storage.models.orders import FollowUp, JobStatus, Ticket, TicketStatus
from storage.models.shifts import HandoverRecord
from storage.repositories import Repo

AGENT = "agent"
OPEN_TICKETS = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.REOPENED)
PENDING_CALLBACKS = (JobStatus.DUE, JobStatus.TASK)  # P17 回访 not yet made
CALLBACK_HORIZON = timedelta(hours=24)  # call-backs falling due by this time tomorrow
CATCH_UP = timedelta(hours=12)  # a shift that ended longer ago than this is not written late
SAMPLES = 3


def topic_of(meaning: dict[str, Any] | None) -> str:
    """FAQ entry, intent, or what kind of thing the bot could not answer."""
    meaning = meaning or {}
    if meaning.get("intent"):
        return f"intent:{meaning['intent']}"
    if meaning.get("decision") == "answer" and meaning.get("entry"):
        return f"faq:{meaning['entry']}"
    if meaning.get("decision") in ("none", "clarify"):
        return "unanswered"
    return str(meaning.get("decision") or meaning.get("kind") or "other")


async def collect(repo: Repo, shift: sh.Shift, now: datetime) -> dict[str, Any]:
    """The record's content for ``shift`` (plain JSON data)."""
    rows = await repo.session.scalars(
        select(Message).where(Message.sender == Sender.SHOPPER,
                              Message.created_at >= shift.start, Message.created_at < shift.end)
        .order_by(Message.id)
    )
    topics: dict[str, list[str]] = {}
    for message in rows:
        if message.kind in ("text", "command") and message.text:
            topics.setdefault(topic_of(message.meaning), []).append(message.text)
    questions = [
        {"topic": topic, "count": len(texts), "samples": list(dict.fromkeys(texts))[:SAMPLES]}
        for topic, texts in sorted(topics.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    open_rows = await repo.session.execute(
        select(Conversation, Customer.name)
        .join(Customer, Customer.id == Conversation.customer_id)
        .where(Conversation.state.in_([ConversationState.QUEUED, ConversationState.ASSIGNED]))
        .order_by(Conversation.id)
    )
    open_items = [
        {"conversation": c.id, "customer": name, "state": str(c.state), "agent": c.agent_id,
         "reason": c.escalation_reason}
        for c, name in open_rows
    ]
    notes = [{"agent": n.agent_id, "text": n.text, "id": n.id}
             for n in await repo.shifts.open_notes(until=now)]
    tickets = [
        {"ticket": t.id, "kind": t.kind, "status": t.status, "agent": t.owner_id,
         "due": t.due_at.isoformat()}
        for t in await repo.session.scalars(
            select(Ticket).where(Ticket.status.in_(OPEN_TICKETS)).order_by(Ticket.due_at))
    ]
    callbacks = [
        {"follow_up": f.id, "kind": f.kind, "customer": f.customer_id,
         "due": f.due_at.isoformat(), "status": f.status}
        for f in await repo.session.scalars(
            select(FollowUp).where(FollowUp.status.in_(PENDING_CALLBACKS),
                                   FollowUp.due_at <= now + CALLBACK_HORIZON)
            .order_by(FollowUp.due_at))
    ]
    return {"questions": questions, "open": open_items, "notes": notes, "tickets": tickets,
            "callbacks": callbacks, "asked": sum(q["count"] for q in questions)}


def render(shift: sh.Shift, data: dict[str, Any], tz: ZoneInfo, w: StaffWords,
           names: dict[int, str] | None = None) -> str:
    """The record in one reader's words (staff phrases ``handover.*``), people by name."""
    names = names or {}

    def who(agent: int | None) -> str:
        return names.get(agent, str(agent)) if agent else ""

    def at(iso: str) -> str:
        return f"{datetime.fromisoformat(iso).astimezone(tz):%m-%d %H:%M}"

    start, end = shift.start.astimezone(tz), shift.end.astimezone(tz)
    end_text = "24:00" if end.hour == end.minute == 0 else f"{end:%H:%M}"
    lines = [w("handover.title", day=shift.day, start=f"{start:%H:%M}", end=end_text,
               agents=", ".join(who(a) for a in shift.agents) or w("nobody")),
             w("handover.asked", count=data["asked"])]
    lines += [w("handover.topic", topic=q["topic"], count=q["count"],
                samples=" / ".join(q["samples"])) for q in data["questions"]]
    lines.append(w("handover.open", count=len(data["open"])))
    lines += [w("handover.open_item", conversation=o["conversation"],
                customer=o["customer"] or w("shopper"), state=w.label("state", o["state"]),
                agent=w("handover.agent", agent=who(o["agent"])) if o["agent"] else "",
                reason=w("handover.reason", reason=w.label("reason", o["reason"]))
                if o["reason"] else "")
              for o in data["open"]]
    tickets, callbacks = data.get("tickets", []), data.get("callbacks", [])
    lines.append(w("handover.tickets", count=len(tickets)))
    lines += [w("handover.ticket", ticket=t["ticket"], kind=w.label("ticket", t["kind"]),
                status=w.label("ticket", t["status"]), due=at(t["due"]),
                agent=w("handover.agent", agent=who(t[AGENT])) if t[AGENT] else "")
              for t in tickets]
    lines.append(w("handover.callbacks", count=len(callbacks)))
    lines += [w("handover.callback", follow_up=c["follow_up"], kind=c["kind"],
                customer=c["customer"], due=at(c["due"])) for c in callbacks]
    lines.append(w("handover.notes", count=len(data["notes"])))
    lines += [w("handover.note", agent=who(n["agent"]), text=n["text"]) for n in data["notes"]]
    return "\n".join(lines)


def record_text(record: HandoverRecord, tz: ZoneInfo, w: StaffWords,
                names: dict[int, str] | None = None) -> str:
    """A stored record in the reader's language, from its data (a record written before
    its data was kept: the text as written)."""
    if not record.data or "asked" not in record.data:
        return record.text
    shift = sh.Shift(record.shift_day, record.shift_start, record.shift_end,
                     tuple(record.agents or ()))
    return render(shift, record.data, tz, w, names)


async def write_record(repo: Repo, shift: sh.Shift, now: datetime,
                       words: StaffWords) -> HandoverRecord:
    """Write (once) the handover record of ``shift``; its open notes are attached to it."""
    existing = await repo.shifts.record_for(shift.start)
    if existing is not None:
        return existing
    data = await collect(repo, shift, now)
    record = await repo.shifts.add_record(HandoverRecord(
        shift_day=shift.day, shift_start=shift.start, shift_end=shift.end,
        agents=list(shift.agents), data=data,
        # As written, in the shop's language; each reader gets record_text in their own.
        text=render(shift, data, await sh.shop_tz(repo), words, await agent_names(repo)),
        created_at=now,
    ))
    for note in await repo.shifts.open_notes(until=now):
        note.record_id = record.id
    return record


async def add_note(repo: Repo, agent_id: int, text: str, now: datetime) -> None:
    await repo.shifts.add_note(agent_id, text.strip(), now)
    await repo.commit()


@dataclass
class TickResult:
    """What to send: records to post to the agents' group, and (agent, record) to show."""

    written: list[HandoverRecord] = field(default_factory=list)
    to_show: list[tuple[int, HandoverRecord]] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)  # conversations back in the queue


async def hand_back(repo: Repo, now: datetime) -> list[int]:
    """A shift ended: chats still with an agent who is no longer on duty go back to the
    queue, keeping their place, so the next shift can take them (P13; lifecycle
    ``shift_ended``). Returns their ids."""
    present = {agent.telegram_user_id for agent in await on_duty_agents(repo, now)}
    assigned = await repo.session.scalars(
        select(Conversation).where(Conversation.state == ConversationState.ASSIGNED)
        .order_by(Conversation.id))
    life = Lifecycle()
    return [conversation.id for conversation in list(assigned)
            if await life.shift_ended(repo, conversation, present, now)]


async def shift_tick(repo: Repo, now: datetime, words: StaffWords) -> TickResult:
    """Write the records of shifts that just ended (their text in ``words``, the shop's
    language); show the last one to the agents of the shift that is running (each once)."""
    result = TickResult()
    if not await calendar_enabled(repo):
        return result  # no calendar, no shifts to hand over
    for shift in await sh.shifts_around(repo, now, before=2, after=0):
        if shift.closed is not None:
            continue
        if shift.end <= now and now - shift.end <= CATCH_UP:
            if await repo.shifts.record_for(shift.start) is None:
                result.written.append(await write_record(repo, shift, now, words))
                result.requeued += await hand_back(repo, now)
        elif shift.contains(now):
            record = await repo.shifts.latest_record(before=shift.start)
            if record is None:
                continue
            for agent in shift.agents:
                if agent not in (record.shown_to or []):
                    result.to_show.append((agent, record))
                    record.shown_to = [*(record.shown_to or []), agent]
    await repo.commit()
    return result
