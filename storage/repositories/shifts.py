"""Shift calendar changes, swaps, handover notes/records and complaints (P11–P14)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.shifts import (
    ClosedDay,
    Complaint,
    ComplaintStatus,
    HandoverNote,
    HandoverRecord,
    ShiftAssignment,
    ShiftSwap,
    SwapState,
)


class ShiftRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------ calendar
    async def assignments(self, first: date, last: date) -> dict[date, list[int]]:
        """Explicit agents per day between ``first`` and ``last`` inclusive."""
        rows = await self.session.scalars(
            select(ShiftAssignment)
            .where(ShiftAssignment.day >= first, ShiftAssignment.day <= last)
            .order_by(ShiftAssignment.id)
        )
        out: dict[date, list[int]] = {}
        for row in rows:
            out.setdefault(row.day, []).append(row.agent_id)
        return out

    async def assign(self, day: date, agent_ids: Iterable[int], source: str) -> None:
        """Replace the explicit agents of ``day``."""
        await self.session.execute(delete(ShiftAssignment).where(ShiftAssignment.day == day))
        for agent_id in dict.fromkeys(agent_ids):
            self.session.add(ShiftAssignment(day=day, agent_id=agent_id, source=source))
        await self.session.flush()

    async def closed_days(self, first: date, last: date) -> dict[date, str]:
        rows = await self.session.scalars(
            select(ClosedDay).where(ClosedDay.day >= first, ClosedDay.day <= last)
        )
        return {row.day: row.reason for row in rows}

    async def set_closed(self, day: date, closed: bool, reason: str = "") -> None:
        row = await self.session.get(ClosedDay, day)
        if closed and row is None:
            self.session.add(ClosedDay(day=day, reason=reason))
        elif closed and row is not None:
            row.reason = reason
        elif not closed and row is not None:
            await self.session.delete(row)
        await self.session.flush()

    # ------------------------------------------------------------ swaps
    async def add_swap(self, swap: ShiftSwap) -> ShiftSwap:
        self.session.add(swap)
        await self.session.flush()
        return swap

    async def swap(self, swap_id: int) -> ShiftSwap | None:
        return await self.session.get(ShiftSwap, swap_id)

    async def swaps_of(self, agent_id: int, states: Iterable[str]) -> list[ShiftSwap]:
        rows = await self.session.scalars(
            select(ShiftSwap)
            .where(
                (ShiftSwap.requester_id == agent_id) | (ShiftSwap.colleague_id == agent_id),
                ShiftSwap.state.in_(list(states)),
            )
            .order_by(ShiftSwap.id)
        )
        return list(rows)

    async def approved_swaps(self, first: date, last: date) -> list[ShiftSwap]:
        """Approved swaps touching a day in [first, last] (P12: who took which shift)."""
        rows = await self.session.scalars(
            select(ShiftSwap).where(
                ShiftSwap.state == SwapState.APPROVED,
                ((ShiftSwap.requester_day >= first) & (ShiftSwap.requester_day <= last))
                | ((ShiftSwap.colleague_day >= first) & (ShiftSwap.colleague_day <= last)),
            ).order_by(ShiftSwap.id)
        )
        return list(rows)

    async def pending_swaps(self) -> list[ShiftSwap]:
        rows = await self.session.scalars(
            select(ShiftSwap)
            .where(ShiftSwap.state.in_([SwapState.ASKED, SwapState.ACCEPTED]))
            .order_by(ShiftSwap.id)
        )
        return list(rows)

    # ------------------------------------------------------------ handover
    async def add_note(self, agent_id: int, text: str, now: datetime) -> HandoverNote:
        note = HandoverNote(agent_id=agent_id, text=text, created_at=now)
        self.session.add(note)
        await self.session.flush()
        return note

    async def open_notes(self, until: datetime) -> list[HandoverNote]:
        """Notes not yet in a handover record, written before ``until``."""
        rows = await self.session.scalars(
            select(HandoverNote)
            .where(HandoverNote.record_id.is_(None), HandoverNote.created_at <= until)
            .order_by(HandoverNote.id)
        )
        return list(rows)

    async def record_for(self, shift_start: datetime) -> HandoverRecord | None:
        return await self.session.scalar(
            select(HandoverRecord).where(HandoverRecord.shift_start == shift_start)
        )

    async def add_record(self, record: HandoverRecord) -> HandoverRecord:
        self.session.add(record)
        await self.session.flush()
        return record

    async def record(self, record_id: int) -> HandoverRecord | None:
        return await self.session.get(HandoverRecord, record_id)

    async def latest_record(self, before: datetime | None = None) -> HandoverRecord | None:
        query = select(HandoverRecord).order_by(HandoverRecord.shift_end.desc()).limit(1)
        if before is not None:
            query = query.where(HandoverRecord.shift_end <= before)
        return await self.session.scalar(query)

    async def records(self, limit: int = 10) -> list[HandoverRecord]:
        rows = await self.session.scalars(
            select(HandoverRecord).order_by(HandoverRecord.shift_end.desc()).limit(limit)
        )
        return list(rows)

    # ------------------------------------------------------------ complaints
    async def add_complaint(self, complaint: Complaint) -> Complaint:
        self.session.add(complaint)
        await self.session.flush()
        return complaint

    async def complaint(self, complaint_id: int) -> Complaint | None:
        return await self.session.get(Complaint, complaint_id)

    async def complaint_for_message(self, message_id: int) -> Complaint | None:
        return await self.session.scalar(
            select(Complaint).where(Complaint.message_id == message_id)
        )

    async def complaint_for_conversation(self, conversation_id: int) -> Complaint | None:
        """P14: the one complaint of a conversation (the first, should old data hold more)."""
        return await self.session.scalar(
            select(Complaint).where(Complaint.conversation_id == conversation_id)
            .order_by(Complaint.id).limit(1)
        )

    async def charged_count(self, agent_id: int, period: str) -> int:
        """Complaints the owner confirmed against this agent in the period (P14 steps)."""
        query = select(func.count()).select_from(Complaint).where(
            Complaint.agent_id == agent_id, Complaint.period == period,
            Complaint.status == ComplaintStatus.CHARGED,
        )
        return int(await self.session.scalar(query) or 0)

    async def complaints(self, period: str | None = None) -> list[Complaint]:
        query = select(Complaint).order_by(Complaint.id)
        if period is not None:
            query = query.where(Complaint.period == period)
        return list(await self.session.scalars(query))
