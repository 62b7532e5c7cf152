"""Complaints against agents (P14, P20): one per conversation, by cause, charged after the owner.

Policy (seed §四.3(5)): "发现客户因服务原因投诉某客服，一次罚款30元，第二次翻倍，第三次将予以开除".
- A shopper's complaint (the understander's ``complaint`` intent in Message.meaning) becomes one
  Complaint per conversation: further complaining messages of the same chat are folded into it
  (text appended, cause re-read) instead of counting again.
- Its cause is classified from the text (phrases/complaint_cause.py: service attitude, product
  quality, courier, price, other) and shown to the owner.
- Only a complaint *about service* against an agent who had served the shopper before it is
  ``pending``: it becomes a step of the agent's ladder only when the owner confirms (button).
  Product, courier, price and other complaints, and complaints made before any agent wrote in
  the chat, are ``recorded`` and charged to nobody (the owner may still confirm one as service).
- Steps are the owner's ``complaint_steps`` (default "30,60,dismiss": 30 元, doubled, dismissal);
  counts are cumulative per agent unless the owner sets ``complaint_period`` (month, quarter,
  year). An unfounded complaint stops counting and the agent's later ones move down a step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services import audit
from bot.services.owner_admin import parse_steps
from bot.services.shifts import shop_tz
from bot.services.staff import agent_names, owner_setting
from phrases.complaint_cause import SERVICE, cause_label, cause_names, classify_cause
from storage.models import Message, Sender
from storage.models.shifts import Complaint, ComplaintStatus
from storage.repositories import Repo

if TYPE_CHECKING:
    from phrases.staff import StaffWords

ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}
TEXT_LIMIT = 2000  # the folded text of one complaint (several messages) is bounded
ALL_TIME = "all"


def period_of(when: datetime, tz: ZoneInfo, period: str) -> str:
    """The counting period a complaint belongs to; ``all`` (the default) never restarts."""
    local = when.astimezone(tz)
    if period == "year":
        return f"{local.year}"
    if period == "quarter":
        return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    if period == "month":
        return f"{local.year}-{local.month:02d}"
    return ALL_TIME


def step_text(step: int, steps: list[float | None], w: StaffWords) -> str:
    """'第2次投诉：罚款60元' / '3rd complaint: dismissal' (beyond the list: the last)."""
    if step <= 0:
        return w("complaint.no_step")
    amount = steps[min(step, len(steps)) - 1]
    nth = w("complaint.nth", n=step) if w.zh else ORDINALS.get(step, f"{step}th")
    if amount is None:
        return w("complaint.step_dismiss", nth=nth)
    return w("complaint.step_fine", nth=nth, amount=f"{amount:g}")


async def ladder(repo: Repo) -> list[float | None]:
    """The owner's steps (P14), e.g. [30.0, 60.0, None] for "30,60,dismiss"."""
    return parse_steps(await owner_setting(repo, "complaint_steps"))


def _who(agent_id: int | None, names: dict[int, str], w: StaffWords) -> str:
    """An agent by name; the Telegram id only for someone the bot has no name for."""
    if agent_id is None:
        return w("nobody")
    return names.get(agent_id) or str(agent_id)


async def served_by(repo: Repo, conversation_id: int, before_message_id: int) -> int | None:
    """The agent who last wrote to the shopper before the complaint; None if no agent had
    served them yet (a complaint made to the bot is charged to nobody)."""
    return await repo.session.scalar(
        select(Message.agent_id)
        .where(Message.conversation_id == conversation_id, Message.sender == Sender.AGENT,
               Message.agent_id.is_not(None), Message.id < before_message_id)
        .order_by(Message.id.desc()).limit(1)
    )


def _status_for(agent: int | None, cause: str) -> str:
    return ComplaintStatus.PENDING if agent is not None and cause == SERVICE else (
        ComplaintStatus.RECORDED)


async def record_complaint(repo: Repo, message: Message, now: datetime) -> Complaint | None:
    """Record a complaining message: a new Complaint for the conversation's first, folded into
    the existing one for later messages. Returns the complaint when the owner must (again) be
    told: a new one, or one that became a pending service complaint by the fold."""
    if await repo.shifts.complaint_for_message(message.id) is not None:
        return None
    existing = (await repo.shifts.complaint_for_conversation(message.conversation_id)
                if message.conversation_id is not None else None)
    if existing is not None:
        return await _fold(repo, existing, message)
    agent = (await served_by(repo, message.conversation_id, message.id)
             if message.conversation_id is not None else None)
    cause = classify_cause(message.text or "")
    period = period_of(message.created_at, await shop_tz(repo),
                       await owner_setting(repo, "complaint_period"))
    complaint = Complaint(message_id=message.id, conversation_id=message.conversation_id,
                          agent_id=agent, text=(message.text or "")[:TEXT_LIMIT], created_at=now,
                          period=period, step=0, cause=cause, status=_status_for(agent, cause),
                          last_message_id=message.id)
    await repo.shifts.add_complaint(complaint)
    await repo.events.add("complaint", conversation_id=message.conversation_id, agent_id=agent,
                          at=now, complaint=complaint.id, cause=cause, status=complaint.status)
    return complaint


async def _fold(repo: Repo, complaint: Complaint, message: Message) -> Complaint | None:
    """P14: a further complaining message of the same chat is the same complaint."""
    if complaint.last_message_id is not None and message.id <= complaint.last_message_id:
        return None
    complaint.last_message_id = message.id
    complaint.text = f"{complaint.text}\n{message.text or ''}"[:TEXT_LIMIT]
    if complaint.status not in (ComplaintStatus.PENDING, ComplaintStatus.RECORDED):
        return None  # the owner decided already; the decision stands
    if complaint.agent_id is None:
        complaint.agent_id = await served_by(repo, message.conversation_id, message.id)
    before = complaint.status
    complaint.cause = classify_cause(complaint.text)
    complaint.status = _status_for(complaint.agent_id, complaint.cause)
    changed = before != complaint.status and complaint.status == ComplaintStatus.PENDING
    return complaint if changed else None


async def collect_complaints(repo: Repo, now: datetime,
                             lookback: timedelta = timedelta(days=2)) -> list[Complaint]:
    """Turn new complaining shopper messages into Complaints (called by the minute job)."""
    rows = await repo.session.scalars(
        select(Message).where(Message.sender == Sender.SHOPPER,
                              Message.created_at >= now - lookback,
                              Message.meaning.is_not(None))
        .order_by(Message.id)
    )
    found: dict[int, Complaint] = {}
    for message in list(rows):
        if (message.meaning or {}).get("intent") == "complaint":
            complaint = await record_complaint(repo, message, now)
            if complaint is not None:
                found[complaint.id] = complaint
    return list(found.values())


async def notice_text(repo: Repo, complaint: Complaint, w: StaffWords) -> str:
    """What the owner is told about a complaint: cause, who served, what confirming would do."""
    names = await agent_names(repo)
    lines = [w("complaint.notice_title", complaint=complaint.id,
               cause=cause_label(complaint.cause, w.lang)), f"“{complaint.text}”"]
    who = _who(complaint.agent_id, names, w)
    if complaint.agent_id is None:
        lines.append(w("complaint.before_agent"))
    elif complaint.status == ComplaintStatus.PENDING:
        step = await repo.shifts.charged_count(complaint.agent_id, complaint.period) + 1
        period = "" if complaint.period == ALL_TIME else w("complaint.in_period",
                                                           period=complaint.period)
        lines.append(w("complaint.if_confirmed", agent=who, period=period,
                       step=step_text(step, await ladder(repo), w)))
    else:
        lines.append(w("complaint.not_service", agent=who))
    return "\n".join(lines)


@dataclass(frozen=True)
class Decision:
    """The outcome of an owner's tap: the complaint and the step it reached (0: none)."""

    complaint: Complaint | None
    step: int = 0


async def charge(repo: Repo, complaint_id: int, owner: int, now: datetime) -> Decision:
    """P14: the owner confirms a service complaint: the agent's next step is recorded."""
    complaint = await repo.shifts.complaint(complaint_id)
    if complaint is None or complaint.agent_id is None or complaint.status not in (
            ComplaintStatus.PENDING, ComplaintStatus.RECORDED):
        return Decision(None)
    complaint.step = await repo.shifts.charged_count(complaint.agent_id, complaint.period) + 1
    complaint.status, complaint.cause = ComplaintStatus.CHARGED, SERVICE
    complaint.charged_at, complaint.charged_by = now, owner
    await audit.record(repo, owner, "complaint_charged", at=now, complaint=complaint_id,
                       agent=complaint.agent_id, step=complaint.step)
    await repo.commit()
    return Decision(complaint, complaint.step)


async def not_charged(repo: Repo, complaint_id: int, owner: int) -> bool:
    """The owner says a pending complaint was not the agent's service: recorded, no step."""
    complaint = await repo.shifts.complaint(complaint_id)
    if complaint is None or complaint.status != ComplaintStatus.PENDING:
        return False
    complaint.status = ComplaintStatus.RECORDED
    await audit.record(repo, owner, "complaint_not_charged", complaint=complaint_id)
    await repo.commit()
    return True


async def _renumber(repo: Repo, agent_id: int, period: str) -> None:
    step = 0
    for other in await repo.shifts.complaints(period):
        if other.agent_id == agent_id and other.status == ComplaintStatus.CHARGED:
            step += 1
            other.step = step


async def mark_unfounded(repo: Repo, complaint_id: int, owner: int, now: datetime) -> bool:
    """The owner takes a complaint back; the agent's later complaints move down a step."""
    complaint = await repo.shifts.complaint(complaint_id)
    if complaint is None or complaint.status == ComplaintStatus.DISMISSED:
        return False
    was_charged = complaint.status == ComplaintStatus.CHARGED
    complaint.unfounded_at, complaint.unfounded_by = now, owner
    complaint.status, complaint.step = ComplaintStatus.DISMISSED, 0
    if was_charged and complaint.agent_id is not None:
        await _renumber(repo, complaint.agent_id, complaint.period)
    await audit.record(repo, owner, "complaint_unfounded", at=now, complaint=complaint_id)
    await repo.commit()
    return True


async def counts(repo: Repo, now: datetime) -> dict[int, int]:
    """Charged complaints per agent in the current period."""
    period = period_of(now, await shop_tz(repo), await owner_setting(repo, "complaint_period"))
    out: dict[int, int] = {}
    for c in await repo.shifts.complaints(period):
        if c.agent_id is not None and c.status == ComplaintStatus.CHARGED:
            out[c.agent_id] = out.get(c.agent_id, 0) + 1
    return out


def by_cause(complaints: list[Complaint]) -> dict[str, int]:
    """Complaints (not dismissed) per cause, in the causes' order; empty causes left out."""
    out = {name: 0 for name in cause_names()}
    for c in complaints:
        if c.status != ComplaintStatus.DISMISSED:
            out[c.cause if c.cause in out else "other"] += 1
    return {name: n for name, n in out.items() if n}


async def summary_text(repo: Repo, now: datetime, w: StaffWords) -> str:
    """P14: each agent's count and step by name, complaints by cause, then recent ones."""
    steps = await ladder(repo)
    names = await agent_names(repo)
    period = period_of(now, await shop_tz(repo), await owner_setting(repo, "complaint_period"))
    complaints = await repo.shifts.complaints(period)
    lines = [w("complaint.summary_all") if period == ALL_TIME
             else w("complaint.summary_period", period=period)]
    per_agent = await counts(repo, now)
    lines += [w("complaint.agent_line", agent=_who(a, names, w), count=n,
                step=step_text(n, steps, w)) for a, n in sorted(per_agent.items())]
    if not per_agent:
        lines.append(w("complaint.none_charged"))
    causes = by_cause(complaints)
    if causes:
        lines.append(w("complaint.by_cause", causes="，".join(
            f"{cause_label(k, w.lang)} {n}" for k, n in causes.items())))
    waiting = [c for c in complaints if c.status == ComplaintStatus.PENDING]
    if waiting:
        lines.append(w("complaint.waiting", ids=", ".join(f"#{c.id}" for c in waiting)))
    for c in complaints[-10:]:
        lines.append(w("complaint.line", complaint=c.id, cause=cause_label(c.cause, w.lang),
                       agent=_who(c.agent_id, names, w),
                       status=w.label("complaint.status", c.status), text=c.text[:60]))
    return "\n".join(lines)
