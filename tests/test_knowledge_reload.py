"""The FAQ matcher is rebuilt off the event loop after an edit (P4: shoppers keep being answered).

Building a language's matcher takes seconds for hundreds of entries; it runs on a worker thread
and is swapped in whole when ready. Progress of the loop is counted in ticks of a concurrent
coroutine, not in wall time (the machine may be loaded).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import knowledge as kb
from bot.services.knowledge import KnowledgeBase
from bot.settings import Settings
from phrases.understand import Understander
from storage.models import FaqEntryRow
from storage.repositories import Repo
from tests.fakes.updates import message_update
from tests.harness import BotHarness
from tests.test_owner_flow import NOON, OWNER

SHOPPER = 5101
OLD_ANSWER = "亲，现货商品当天16:00前付款的当天发出"
NEW_ANSWER = "亲，双十二期间所有订单48小时内发出，发出后订单页会显示快递单号哦～"
QUESTION = "下单以后什么时候发货？"


class Ticker:
    """A coroutine that counts its turns on the event loop."""

    def __init__(self) -> None:
        self.ticks = 0
        self.reached = threading.Event()  # set once ``wanted`` ticks happened
        self.wanted = 1_000_000
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0)
            self.ticks += 1
            if self.ticks >= self.wanted:
                self.reached.set()

    def stop(self) -> None:
        self.task.cancel()


@pytest.fixture(autouse=True)
def fresh_matchers() -> None:
    """Each test counts its own builds: forget matchers an earlier test (the other back end's
    run of the same test, with the same entries) left in the process-wide memo."""
    kb.understander_for.cache_clear()


@pytest.fixture
async def ticker() -> AsyncIterator[Ticker]:
    t = Ticker()
    yield t
    t.stop()


def entries(n: int) -> list[FaqEntryRow]:
    words = ("亚麻衬衫", "纯棉T恤", "床单", "毛巾", "靠垫套", "连衣裙", "围巾", "睡衣")
    return [FaqEntryRow(key=f"e{i}", lang="zh", question=f"{words[i % 8]}第{i}号问题怎么洗？",
                        answer=f"第{i}号的答案", alt=[f"{words[i % 8]}{i}能机洗吗"])
            for i in range(n)]


async def test_the_loop_keeps_turning_while_the_matcher_is_rebuilt_P4(
    settings: Settings, repo: Repo, ticker: Ticker, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """During the build itself the loop goes on: a concurrent coroutine ticks, and the build
    sees it tick (it waits for five ticks; on the loop's own thread it would never see one)."""
    repo.session.add_all(entries(40))
    await repo.commit()
    knowledge = KnowledgeBase(settings)
    during: list[int] = []

    def watched(items: object) -> Understander:
        start = ticker.ticks
        ticker.wanted = start + 5
        saw_ticks = ticker.reached.wait(timeout=3)
        built = Understander(items)  # type: ignore[arg-type]
        during.append(ticker.ticks - start if saw_ticks else 0)
        return built

    monkeypatch.setattr(kb, "Understander", watched)
    await knowledge.reload(repo)
    assert during and during[0] >= 5
    assert knowledge.entry_count() == {"zh": 40}
    assert knowledge.understand("亚麻衬衫能机洗吗", "zh").best is not None


async def test_a_template_edit_does_not_rebuild_an_unchanged_faq_P4(
    settings: Settings, repo: Repo, monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo.session.add_all(entries(5))
    await repo.commit()
    knowledge = KnowledgeBase(settings)
    await knowledge.reload(repo)
    builds = itertools.count()
    monkeypatch.setattr(kb, "Understander", lambda items: (next(builds), Understander(items))[1])
    await knowledge.reload(repo)  # nothing changed in the FAQ: the matcher stays
    assert next(builds) == 0
    row = await repo.faq.get("e1", "zh")
    row.answer = "新的答案"
    await repo.commit()
    await knowledge.reload(repo)
    assert next(builds) == 2  # one build, for the one language that changed
    assert knowledge.entry("e1", "zh").answer == "新的答案"


async def test_overlapping_reloads_leave_the_newest_faq_live_P4(
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A slow first build that finishes after a second reload never puts the older FAQ back."""
    async with sessions() as db:
        db.add_all(entries(3))
        await db.commit()
    knowledge = KnowledgeBase(settings)
    first_started, first_may_finish = threading.Event(), threading.Event()
    calls = itertools.count()

    def slow_first(items: object) -> Understander:
        if next(calls) == 0:
            first_started.set()
            first_may_finish.wait(timeout=5)
        return Understander(items)  # type: ignore[arg-type]

    monkeypatch.setattr(kb, "Understander", slow_first)
    async with sessions() as db:
        first = asyncio.create_task(knowledge.reload(Repo(db)))
        assert await asyncio.to_thread(first_started.wait, 5)
        assert not first.done()  # the first build is under way off the loop
        async with sessions() as db2:
            db2.add(FaqEntryRow(key="late", lang="zh", question="第二次重载加的问题？",
                                answer="后加的答案", alt=[]))
            await db2.commit()
            await knowledge.reload(Repo(db2))
        first_may_finish.set()
        await first
    assert knowledge.entry("late", "zh") is not None
    assert knowledge.understand("第二次重载加的问题？", "zh").best.entry_id == "late"


async def test_a_shopper_asking_during_a_rebuild_gets_the_old_answer_then_the_new_P4(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dispatcher: the owner's /faqset waits for its matcher; a shopper asking meanwhile is
    answered at once, from the FAQ as it was; after the swap, from the new one."""
    h = await BotHarness.start(settings, NOON)
    try:
        started, release = threading.Event(), threading.Event()

        def gated(items: object) -> Understander:
            started.set()
            release.wait(timeout=5)
            return Understander(items)  # type: ignore[arg-type]

        monkeypatch.setattr(kb, "Understander", gated)
        edit = asyncio.create_task(h.feed(message_update(
            1, OWNER, f"/faqset shipping_time zh\nQ: {QUESTION}\nA: {NEW_ANSWER}")))
        assert await asyncio.to_thread(started.wait, 5)
        assert not edit.done()
        await h.feed(message_update(2, SHOPPER, QUESTION))
        assert any(OLD_ANSWER in text for text in h.sent(SHOPPER))
        assert not any(NEW_ANSWER in text for text in h.sent(SHOPPER))
        release.set()
        await edit
        h.session.requests.clear()
        await h.feed(message_update(3, SHOPPER, "那" + QUESTION))
        assert any(NEW_ANSWER in text for text in h.sent(SHOPPER))
    finally:
        release.set()
        await h.app.close()
