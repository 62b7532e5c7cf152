"""Notices 通知/温馨提示 (P22): the owner's broadcast to a segment, in each shopper's language.

The notice and one row per recipient are written first; the sender then claims each row
(compare-and-set, committed) before sending it, so a restart mid-way resumes with the rest and
nobody gets a second copy. Sending is paced under Telegram's ~30 messages/s; shoppers who
blocked the bot are skipped and counted; those who opted out (/stop_notices) are not included.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.services import audit
from bot.services.orders import OrderDesk
from bot.services.replies import Replier, Reply
from bot.settings import Settings
from phrases.refused import Refused
from phrases.splitting import TELEGRAM_LIMIT, units
from storage.models.orders import JobStatus, Notice, NoticeDelivery
from storage.repositories import Repo

SEGMENTS = ("all", "open_orders", "delivered", "recent")
Progress = Callable[[int, int], Awaitable[None]]  # (done, total)


@dataclass(frozen=True)
class Audience:
    """Who a notice would reach, shown in its preview: recipients per language they will
    read it in; ``blocked`` of them blocked the bot and are skipped. Opted-out shoppers
    (/stop_notices) are never counted."""

    segment: str
    by_lang: dict[str, int]
    blocked: int
    seconds: int  # how long sending takes at the paced rate (under Telegram's ~30/s)

    @property
    def total(self) -> int:
        return sum(self.by_lang.values())


@dataclass(frozen=True)
class NoticeReport:
    notice_id: int
    total: int
    sent: int
    blocked: int
    failed: int
    interrupted: int  # claimed by a run that died before it could tell: never re-sent


class Pacer:
    """At most ``rate`` sends per second, spread evenly (no bursts)."""

    def __init__(self, rate: float, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate
        self.sleep = sleep
        self.monotonic = monotonic
        self.next_at = 0.0

    async def wait(self) -> None:
        now = self.monotonic()
        if self.next_at > now:
            await self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


class NoticeService:
    def __init__(self, settings: Settings, replier: Replier, clock: Clock, desk: OrderDesk,
                 sessions: async_sessionmaker[AsyncSession], pacer: Pacer | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        self.replier = replier
        self.clock = clock
        self.desk = desk
        self.pacer = pacer or Pacer(settings.notice_rate_per_second)

    async def audience(self, repo: Repo, segment: str) -> Audience:
        if segment not in SEGMENTS:
            raise ValueError(f"unknown segment {segment!r}; one of {', '.join(SEGMENTS)}")
        by_lang: dict[str, int] = {}
        blocked = 0
        for open_lang, code, is_blocked in await repo.aftercare.segment_languages(
                segment, self.clock.now()):
            lang = self.desk.language_from(open_lang, code)
            by_lang[lang] = by_lang.get(lang, 0) + 1
            blocked += is_blocked
        total = sum(by_lang.values())
        return Audience(segment, by_lang, blocked,
                        math.ceil((total - blocked) / self.settings.notice_rate_per_second))

    async def create(self, repo: Repo, segment: str, texts: dict[str, str],
                     created_by: int | None, *, actor_name: str | None = None,
                     tone_confirmed: list[str] | None = None) -> tuple[Notice, int]:
        """Writes the notice and its recipients, and records it in the change log (with the
        negative terms the owner confirmed, P9); returns (notice, number of recipients)."""
        if segment not in SEGMENTS:
            raise Refused("notice.err_segment", segments=", ".join(SEGMENTS))
        texts = {lang: text.strip() for lang, text in texts.items() if text.strip()}
        if not texts:
            raise Refused("notice.err_empty")
        if too_long := [lang for lang, text in texts.items() if units(text) > TELEGRAM_LIMIT]:
            raise Refused("notice.err_too_long", langs="/".join(too_long),
                          limit=f"{TELEGRAM_LIMIT:,}")
        now = self.clock.now()
        recipients = await repo.aftercare.segment(segment, now)
        notice = Notice(segment=segment, texts=texts, created_by=created_by, created_at=now)
        await repo.aftercare.add_notice(notice, recipients)
        await repo.events.add("notice_created", notice=notice.id, recipients=len(recipients))
        await audit.record(repo, created_by, "notice", actor_name=actor_name, at=now,
                           notice=notice.id, segment=segment, recipients=len(recipients),
                           text=next(iter(texts.values()))[:120],
                           **({"tone_confirmed": tone_confirmed} if tone_confirmed else {}))
        await repo.commit()
        return notice, len(recipients)

    async def send(self, notice_id: int, progress: Progress | None = None,
                   every: int = 50) -> NoticeReport:
        """Sends every copy still due (also after a restart); returns the counts."""
        done = 0
        async with self.sessions() as db:
            repo = Repo(db)
            notice = await db.get(Notice, notice_id)
            if notice is None:
                raise ValueError(f"no notice #{notice_id}")
            total = sum((await repo.aftercare.notice_counts(notice_id)).values())
            while batch := await repo.aftercare.deliveries_due(notice_id, self.clock.now()):
                for delivery, customer in batch:
                    now = self.clock.now()
                    if not await repo.aftercare.claim(NoticeDelivery, delivery.id, now):
                        continue
                    await repo.commit()
                    if customer.blocked_at is not None:
                        await repo.aftercare.mark(delivery, JobStatus.BLOCKED, now)
                    else:
                        lang = await self.desk.language_of(repo, customer)
                        text = notice.texts.get(lang) or next(iter(notice.texts.values()))
                        await self.pacer.wait()
                        message_id = await self.replier.send(customer.chat_id, Reply(text))
                        await db.refresh(customer)  # the outgoing guard marks blocked chats
                        status = (JobStatus.SENT if message_id is not None
                                  else JobStatus.BLOCKED if customer.blocked_at is not None
                                  else JobStatus.FAILED)
                        await repo.aftercare.mark(delivery, status, now)
                    await repo.commit()
                    done += 1
                    if progress is not None and done % every == 0:
                        await progress(done, total)
            counts = await repo.aftercare.notice_counts(notice_id)
            if notice.finished_at is None:
                notice.finished_at = self.clock.now()
                await repo.commit()
        report = NoticeReport(
            notice_id, total, counts.get(JobStatus.SENT, 0), counts.get(JobStatus.BLOCKED, 0),
            counts.get(JobStatus.FAILED, 0), counts.get(JobStatus.SENDING, 0),
        )
        if progress is not None:
            await progress(total - counts.get(JobStatus.DUE, 0), total)
        return report

    async def opt_out(self, repo: Repo, customer_id: int) -> None:
        await repo.aftercare.opt_out(customer_id, self.clock.now())
        await repo.commit()

    async def resume(self) -> list[NoticeReport]:
        """On start: finish notices a previous run left half-sent (no copy goes out twice)."""
        async with self.sessions() as db:
            unfinished = [n.id for n in await Repo(db).aftercare.unfinished_notices()]
        return [await self.send(notice_id) for notice_id in unfinished]
