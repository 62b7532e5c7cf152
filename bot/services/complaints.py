"""Complaints against agents (P14, P20): counted per agent and period, with the step reached.

A shopper's complaint (the understander's ``complaint`` intent, stored in Message.meaning)
becomes a Complaint naming the agent who served that conversation. Steps are the owner's
setting ``complaint_steps`` (default "50,100,dismiss": 1st a penalty, 2nd doubled, 3rd
dismissal); the period is ``complaint_period`` (month, quarter or year, in the shop's zone).
An unfounded complaint stops counting and the later ones move down a step.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services.owner_admin import parse_steps
from bot.services.shifts import shop_tz
from bot.services.staff import owner_setting
from storage.models import Conversation, Message, Sender
from storage.models.shifts import Complaint
from storage.repositories import Repo

ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}


def period_of(when: datetime, tz: ZoneInfo, period: str) -> str:
    local = when.astimezone(tz)
    if period == "year":
        return f"{local.year}"
    if period == "quarter":
        return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    return f"{local.year}-{local.month:02d}"


def step_text(step: int, steps: list[float | None]) -> str:
    """'2nd complaint: penalty 100' / '3rd complaint: dismissal' (beyond the list: the last)."""
    if step <= 0:
        return "no step"
    amount = steps[min(step, len(steps)) - 1]
    label = f"{ORDINALS.get(step, f'{step}th')} complaint"
    if amount is None:
        return f"{label}: dismissal"
    return f"{label}: penalty {amount:g}"


async def _steps(repo: Repo) -> list[float | None]:
    return parse_steps(await owner_setting(repo, "complaint_steps"))


async def agent_of(repo: Repo, conversation: Conversation) -> int | None:
    """The agent who served the shopper: the owner of the chat, else the last to write in it."""
    if conversation.agent_id is not None:
        return conversation.agent_id
    return await repo.session.scalar(
        select(Message.agent_id)
        .where(Message.conversation_id == conversation.id, Message.sender == Sender.AGENT,
               Message.agent_id.is_not(None))
        .order_by(Message.id.desc()).limit(1)
    )


async def record_complaint(repo: Repo, message: Message, now: datetime) -> Complaint | None:
    """One Complaint per complaining message (idempotent); None if it was recorded already."""
    if await repo.shifts.complaint_for_message(message.id) is not None:
        return None
    conversation = await repo.conversations.get(message.conversation_id)
    agent = await agent_of(repo, conversation) if conversation else None
    period = period_of(message.created_at, await shop_tz(repo),
                       await owner_setting(repo, "complaint_period"))
    step = await repo.shifts.founded_count(agent, period) + 1 if agent is not None else 0
    complaint = Complaint(message_id=message.id, conversation_id=message.conversation_id,
                          agent_id=agent, text=message.text, created_at=now, period=period,
                          step=step)
    await repo.shifts.add_complaint(complaint)
    await repo.events.add("complaint", conversation_id=message.conversation_id, agent_id=agent,
                          complaint=complaint.id, step=step)
    return complaint


async def collect_complaints(repo: Repo, now: datetime,
                             lookback: timedelta = timedelta(days=2)) -> list[Complaint]:
    """Turn new complaining shopper messages into Complaints (called by the minute job)."""
    rows = await repo.session.scalars(
        select(Message).where(Message.sender == Sender.SHOPPER,
                              Message.created_at >= now - lookback,
                              Message.meaning.is_not(None))
        .order_by(Message.id)
    )
    found = []
    for message in list(rows):
        if (message.meaning or {}).get("intent") == "complaint":
            complaint = await record_complaint(repo, message, now)
            if complaint is not None:
                found.append(complaint)
    return found


async def notice_text(repo: Repo, complaint: Complaint) -> str:
    """What the owner is told about a new complaint."""
    who = f"agent {complaint.agent_id}" if complaint.agent_id else "no agent (bot only)"
    step = step_text(complaint.step, await _steps(repo)) if complaint.agent_id else ""
    return (f"New complaint #{complaint.id} about {who}"
            f"{f' — {step} in {complaint.period}' if step else ''}\n“{complaint.text}”\n"
            f"If it is unfounded: /unfounded {complaint.id}")


async def mark_unfounded(repo: Repo, complaint_id: int, owner: int, now: datetime) -> bool:
    """The owner takes a complaint back; the agent's later complaints move down a step."""
    complaint = await repo.shifts.complaint(complaint_id)
    if complaint is None or complaint.unfounded_at is not None:
        return False
    complaint.unfounded_at, complaint.unfounded_by = now, owner
    complaint.step = 0
    if complaint.agent_id is not None:
        step = 0
        for other in await repo.shifts.complaints(complaint.period):
            if other.agent_id == complaint.agent_id and other.unfounded_at is None:
                step += 1
                other.step = step
    await repo.events.add("owner_change", agent_id=owner, action="complaint_unfounded",
                          complaint=complaint_id)
    await repo.commit()
    return True


async def counts(repo: Repo, now: datetime) -> dict[int, int]:
    """Founded complaints per agent in the current period."""
    period = period_of(now, await shop_tz(repo), await owner_setting(repo, "complaint_period"))
    out: dict[int, int] = {}
    for c in await repo.shifts.complaints(period):
        if c.agent_id is not None and c.unfounded_at is None:
            out[c.agent_id] = out.get(c.agent_id, 0) + 1
    return out


async def summary_text(repo: Repo, now: datetime) -> str:
    """P14: the owner sees each agent's count and escalation step, then recent complaints."""
    steps = await _steps(repo)
    period = period_of(now, await shop_tz(repo), await owner_setting(repo, "complaint_period"))
    lines = [f"Complaints in {period}:"]
    per_agent = await counts(repo, now)
    lines += [f"agent {a}: {n} — {step_text(n, steps)}" for a, n in sorted(per_agent.items())]
    if not per_agent:
        lines.append("none against agents")
    for c in (await repo.shifts.complaints(period))[-10:]:
        flag = " (unfounded)" if c.unfounded_at else ""
        lines.append(f"#{c.id} agent {c.agent_id or '—'}{flag}: {c.text[:60]}")
    return "\n".join(lines)
