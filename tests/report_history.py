"""A small known history for the report tests (times in UTC; the shop is in Asia/Shanghai).

Week of Mon 2026-03-02 … Sun 2026-03-08 (local) has conversations A, B, C; conversation D is
in the week before. Expected figures are worked out by hand in tests/test_reports.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from storage.models import Conversation, Customer, Event, Message
from storage.models.orders import FollowUp, Order, Survey, Ticket
from storage.models.shifts import Complaint
from storage.repositories import Repo

T = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # Tue 10:00 in Shanghai
WEEK_START = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # Mon 2026-03-02 00:00 local
WEEK_END = WEEK_START + timedelta(days=7)
S = timedelta(seconds=1)


def _meaning(decision: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "text", "decision": decision, **extra}


async def build_history(repo: Repo) -> None:
    session = repo.session
    c1 = Customer(telegram_user_id=1, chat_id=1, name="Li", first_seen_at=T - timedelta(days=11))
    c2 = Customer(telegram_user_id=2, chat_id=2, name="Ann", first_seen_at=T + timedelta(hours=1))
    c3 = Customer(telegram_user_id=3, chat_id=3, name="Wu", first_seen_at=T + timedelta(days=2))
    session.add_all([c1, c2, c3])
    await session.flush()

    async def conversation(customer: Customer, opened: datetime, greeted_after: int,
                           **fields: Any) -> Conversation:
        row = Conversation(customer_id=customer.id, opened_at=opened, last_activity_at=opened,
                           greeted_at=opened + greeted_after * S, **fields)
        session.add(row)
        await session.flush()
        return row

    async def message(conv: Conversation, sender: str, at: datetime, text: str = "",
                      meaning: dict[str, Any] | None = None, agent_id: int | None = None) -> None:
        session.add(Message(conversation_id=conv.id, sender=sender, text=text, created_at=at,
                            meaning=meaning, agent_id=agent_id))
        await session.flush()

    def event(kind: str, at: datetime, conv: Conversation | None = None,
              agent_id: int | None = None, **data: Any) -> None:
        session.add(Event(kind=kind, at=at, conversation_id=conv.id if conv else None,
                          agent_id=agent_id, data=data))

    # A: answered by the bot alone (returning customer c1).
    a = await conversation(c1, T, 2, state="closed")
    await message(a, "shopper", T, "How long is shipping", _meaning("answer", entry="shipping"))
    await message(a, "bot", T + 2 * S, "Hello Li")
    await message(a, "bot", T + 2 * S, "3-5 days")
    await message(a, "shopper", T + 60 * S, "ok thanks", _meaning("intent", intent="thanks"))
    await message(a, "bot", T + 61 * S, "You're welcome")
    event("faq_feedback", T + 10 * S, a, entry="shipping", helpful=True)

    # B: late greeting (20 s), not understood twice → agent 901.
    b0 = T + timedelta(hours=1)
    b = await conversation(c2, b0, 20, state="assigned", agent_id=901,
                           queued_at=b0 + 33 * S, escalation_reason="not_understood")
    await message(b, "shopper", b0, "Where is my parcel XYZ", _meaning("none"))
    await message(b, "bot", b0 + 20 * S, "Welcome")
    await message(b, "shopper", b0 + 30 * S, "Purple socks?", _meaning("none"))
    await message(b, "bot", b0 + 33 * S, "A colleague will help")
    event("escalated", b0 + 33 * S, b, reason="not_understood")
    event("faq_feedback", b0 + 40 * S, b, entry="socks", helpful=False)
    await message(b, "agent", b0 + 93 * S, "Hi, I am Mei", agent_id=901)
    await message(b, "shopper", b0 + 200 * S, "ok", _meaning("intent", intent="thanks"))
    await message(b, "agent", b0 + 230 * S, "Found it", agent_id=901)
    event("tone_guard", b0 + 229 * S, b, agent_id=901, rule="blame")
    event("holding_reply", b0 + 55 * S, b, agent_id=901)
    event("reassigned", b0 + 90 * S, b, agent_id=901, previous_agent_id=903, misses=3)

    # C: a complaint → agent 902; the shopper's last question is never answered.
    c0 = T + timedelta(days=2)
    c = await conversation(c3, c0, 1, state="assigned", agent_id=902,
                           queued_at=c0 + 1 * S, escalation_reason="complaint")
    await message(c, "shopper", c0, "I want to complain", _meaning("intent", intent="complaint"))
    await message(c, "bot", c0 + 1 * S, "Sorry")
    event("escalated", c0 + 1 * S, c, reason="complaint")
    event("sla_breach", c0 + 60 * S, c, agent_id=902, clock="reply")
    await message(c, "agent", c0 + 121 * S, "I am sorry", agent_id=902)
    await message(c, "shopper", c0 + 200 * S, "where is it", _meaning("clarify"))

    # D: the week before (c1 again), 4 s wait.
    d0 = T - timedelta(days=6)
    d = await conversation(c1, d0, 4, state="closed")
    await message(d, "shopper", d0, "Do you ship abroad", _meaning("answer", entry="abroad"))
    await message(d, "bot", d0 + 4 * S, "Yes")

    # Complaints (P14): one founded against 902 (step 1), one against 901 taken back.
    session.add_all([
        Complaint(conversation_id=c.id, agent_id=902, created_at=c0 + 2 * S, period="2026-03",
                  step=1, cause="service", status="charged"),
        Complaint(conversation_id=b.id, agent_id=901, created_at=b0 + 300 * S,
                  period="2026-03", step=0, unfounded_at=b0 + 400 * S, status="dismissed"),
    ])
    # Surveys (P21): 5 for 901 (Tue), 2 for 902 (Thu), one unanswered; 4 the week before.
    session.add_all([
        Survey(conversation_id=b.id, customer_id=c2.id, agent_id=901, due_at=b0,
               score=5, answered_at=b0 + 1000 * S, status="answered"),
        Survey(conversation_id=c.id, customer_id=c3.id, agent_id=902, due_at=c0,
               score=2, answered_at=c0 + 1000 * S, status="answered"),
        Survey(conversation_id=a.id, customer_id=c1.id, agent_id=None, due_at=T, status="sent"),
        Survey(conversation_id=d.id, customer_id=c1.id, agent_id=None, due_at=d0,
               score=4, answered_at=d0 + 100 * S, status="answered"),
    ])
    # Tickets (P18): three opened this week, two resolved, one of them re-opened.
    due = timedelta(hours=48)
    session.add_all([
        Ticket(customer_id=c2.id, kind="return", created_at=b0, due_at=b0 + due,
               first_resolved_at=b0 + timedelta(hours=3), status="closed"),
        Ticket(customer_id=c3.id, kind="repair", created_at=c0, due_at=c0 + due,
               first_resolved_at=c0 + timedelta(hours=5), reopen_count=1, status="reopened"),
        Ticket(customer_id=c3.id, kind="exchange", created_at=c0 + 60 * S, due_at=c0 + due),
    ])
    # Follow-ups (P17): two sent this week (one answered "ok"), one the week before.
    session.add_all([
        FollowUp(source="delivery:1", kind="delivery", customer_id=c1.id, due_at=T,
                 sent_at=T + 5 * S, outcome="ok", status="answered"),
        FollowUp(source="ticket:1:1", kind="ticket", customer_id=c2.id, due_at=b0,
                 sent_at=b0 + 7 * S, status="sent"),
        FollowUp(source="delivery:2", kind="delivery", customer_id=c1.id, due_at=d0,
                 sent_at=d0, outcome="problem", status="answered"),
    ])
    # Shipments (P19): one order flagged stale this week, one on time.
    session.add_all([
        Order(order_ref="PT-1001", status="shipped", stale_flagged_at=c0),
        Order(order_ref="PT-1002", status="delivered"),
    ])
    await repo.commit()
