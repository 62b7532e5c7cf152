"""The Low items of the security review, each with a test that failed before its fix.

Dispatcher tests (the real routers on a recording Bot session) reuse the agents' console
harness of ``test_agent_console``; pure functions are tested directly.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Update
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.app import App, build_app
from bot.clock import FixedClock
from bot.fsm import PrunedMemoryStorage
from bot.locks import KeyedLocks
from bot.orders_api import build_orders_api
from bot.services import order_import
from bot.services import owner_admin as oa
from bot.services.knowledge import KnowledgeBase, sync_faq_from_files
from bot.services.orders import OrderDesk
from bot.services.products import importer
from bot.settings import Settings
from phrases.tone import check_tone
from storage.models import Conversation, Customer, Event
from storage.repositories import Repo
from tests import test_agent_console as console
from tests import test_products as products
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import PHOTO, message_update, user_json
from tests.test_agent_console import ALICE, GROUP, SHOPPER, H, queued

h = console.h  # the console harness fixture, shared


async def _tap(h: H, user: int, data: str) -> None:
    await h.feed(Update.model_validate({"update_id": h.uid(), "callback_query": {
        "id": f"cb{h.uid()}", "from": user_json(user), "chat_instance": "c", "data": data,
        "message": {"message_id": 997, "date": 1,
                    "chat": {"id": GROUP, "type": "supergroup", "title": "agents"}}}}))


# ------------------------------------------------------------------ tone guard and captions
async def test_rewritten_caption_is_sent_with_its_photo_P9(h: H) -> None:
    """A photo whose caption the tone guard rewrote reaches the shopper as that photo with the
    rewritten caption — not as the caption's text alone, the photo lost."""
    thread = await queued(h)
    await h.agent(ALICE, "/take", thread)
    photo = await h.agent(ALICE, None, thread, caption="我不能退款，可是可以换货 <b>", **PHOTO)
    assert h.to(SHOPPER, "copyMessage") == []  # held back by the guard
    rewrite = h.to(GROUP)[-1].reply_markup.inline_keyboard[0][0].callback_data
    await _tap(h, ALICE, rewrite)
    [copy] = h.to(SHOPPER, "copyMessage")
    assert copy.message_id == photo and copy.from_chat_id == GROUP
    assert copy.caption and "我不能" not in copy.caption and "可是" not in copy.caption
    assert "&lt;b&gt;" in copy.caption  # the agent's text stays text under parse_mode HTML
    assert [r for r in h.to(SHOPPER) if "换货" in (r.text or "")] == []  # no text-only copy
    assert [e.agent_id for e in await h.rows(Event) if e.kind == "human_reply"] == [ALICE]


@pytest.mark.parametrize("text,term", [
    ("不 可 能", "不可能"),
    ("我\u200b不能帮您退款", "我不能"),
    ("我 不 会 给您退", "我不会"),
    ("这个 不 行", "不行"),
    ("没\ufeff办\u200d法", "没办法"),
    ("Ｉ ｃａｎ＇ｔ do that", "I can't"),
    ("I c a n ' t do that", "I can't"),
    ("n o t  m y  p r o b l e m", "not my problem"),
    ("N\u200bo\u200bt my problem", "not my problem"),
    ("ｉｍｐｏｓｓｉｂｌｅ!", "impossible"),
])
def test_tone_guard_cannot_be_slipped_past_by_spacing_or_odd_characters_P9(
        text: str, term: str) -> None:
    report = check_tone(text)
    assert term in [p.term for p in report.problems]
    # The rewrite replaces the whole disguised term, its invisible characters included.
    assert "\u200b" not in report.rewrite and term not in report.rewrite


@pytest.mark.parametrize("text", [
    "好的 可是这样更快",  # "可是" after a space is still flagged …
])
def test_spaced_ordinary_phrases_keep_their_meaning_P9(text: str) -> None:
    assert [p.term for p in check_tone(text).problems] == ["可是"]


@pytest.mark.parametrize("text", [
    "这可是爆款", "可 以 的", "今天 不会 到，可能 明天", "我们可以帮您换货", "b u t t e r",
    "Size M fits 165 cm", "ＸＬ码有货", "I can help with that", "不行的话可以换货吗？",
    "Please see the photo: b u t", "我\u200b可以帮您",
])
def test_normalisation_adds_no_false_alarm_on_normal_text_P9(text: str) -> None:
    assert check_tone(text).ok


# ------------------------------------------------------------------ owner's long texts
async def test_owner_text_over_telegrams_limit_is_refused_on_save_with_the_limit(
        repo: Repo, settings: Settings) -> None:
    """A greeting Telegram would refuse whole (over 4,096 characters once its placeholders are
    filled) and a photo caption over 1,024 are refused when the owner saves them, saying the
    limit; texts within it are saved."""
    await sync_faq_from_files(repo, settings)
    kb = KnowledgeBase(settings)
    await kb.reload(repo)
    greeting = kb.catalogue.categories("zh")["greeting"][0].key
    long = "{customer_name}，" + "欢迎光临" * 1023  # 4,094 as written, longer once filled
    check = oa.check_template(kb, greeting, "zh", long)
    assert not check.savable and check.errors[0].values["limit"] == "4,096"
    assert await oa.save_template(repo, kb, 900, check) == list(check.errors)
    assert kb.catalogue.get(greeting, "zh").text != long.strip()
    [caption] = [p.key for p in kb.catalogue.categories("zh")["explanation"]
                 if "recommend_caption" in p.tags]
    refused = oa.check_template(kb, caption, "zh", "{product}｜{price}\n" + "棉" * 1020)
    assert not refused.savable and refused.errors[0].key == "tpl.err.too_long_caption"
    assert refused.errors[0].values["limit"] == "1,024"
    fits = oa.check_template(kb, caption, "zh", "{product}｜{price}\n" + "棉" * 900)
    assert fits.savable
    assert await oa.save_template(repo, kb, 900, fits) == []


# ------------------------------------------------------------------ per-user memory
def _entries(obj: object) -> int:
    """Per-user entries an FSM storage or isolation object holds in memory."""
    return sum(len(v) for v in vars(obj).values() if isinstance(v, (dict, KeyedLocks)))


async def test_in_memory_state_of_shoppers_is_not_kept_after_their_updates(h: H) -> None:
    """Without Redis, the dialogue store and the per-user locks hold nothing for shoppers who
    have no dialogue open once their updates are handled (aiogram's own keep one entry per
    user ever seen), and the topic locks forget customers nobody waits for."""
    for user in range(7000, 7040):
        await h.feed(message_update(h.uid(), user, "你好"))
    fsm = h.dp.fsm
    assert _entries(fsm.storage) == 0 and _entries(fsm.events_isolation) == 0
    assert h.app.console is not None and len(h.app.console._topic_locks) == 0


async def test_dialogue_store_is_bounded_and_keeps_open_dialogues() -> None:
    storage = PrunedMemoryStorage(limit=3)
    keys = [StorageKey(bot_id=1, chat_id=u, user_id=u) for u in range(5)]
    for key in keys:
        await storage.set_state(key, "editing")
        await storage.set_data(key, {"draft": key.user_id})
    assert len(storage.records) == 3  # the least recently used went first
    assert await storage.get_state(keys[0]) is None and await storage.get_data(keys[0]) == {}
    assert await storage.get_value(keys[4], "draft") == 4
    await storage.set_state(keys[4], None)
    await storage.set_data(keys[4], {})
    assert keys[4] not in storage.records


async def test_keyed_locks_exclude_and_forget() -> None:
    locks, order = KeyedLocks(), []

    async def work(n: int) -> None:
        async with locks.hold("shopper"):
            order.append(("in", n))
            await asyncio.sleep(0.01)
            order.append(("out", n))

    await asyncio.gather(*(work(n) for n in range(3)))
    assert [kind for kind, _ in order] == ["in", "out"] * 3 and len(locks) == 0


# ------------------------------------------------------------------ topic lock across processes
class SlowTopics:
    """A TopicPort whose topic creation takes a while, as Telegram's does under load."""

    def __init__(self, created: list[str]) -> None:
        self.created = created

    async def create_topic(self, chat_id: int, name: str) -> int:
        await asyncio.sleep(0.2)
        self.created.append(name)
        return 1000 + len(self.created)

    async def rename_topic(self, *args: Any, **kw: Any) -> None: ...

    async def send_text(self, *args: Any, **kw: Any) -> int | None:
        return 1

    async def copy(self, *args: Any, **kw: Any) -> int | None:
        return 1

    async def close_buttons(self, *args: Any, **kw: Any) -> None: ...


async def test_two_processes_open_one_topic_for_a_shopper(db_url: str) -> None:
    """Two processes (two apps on one PostgreSQL database, each with its own in-process locks)
    open the same shopper's topic at once: one forum topic is created, not two."""
    if not db_url.startswith("postgresql"):
        pytest.skip("several processes share a database on PostgreSQL only (SQLite: one)")
    apps = [await build_app(console.console_settings(db_url), session=RecordingSession(),
                            clock=FixedClock(console.MORNING)) for _ in range(2)]
    created: list[str] = []
    try:
        for app in apps:
            assert app.console is not None
            app.console.port = SlowTopics(created)
        async with apps[0].sessions() as db:
            repo = Repo(db)
            customer = Customer(telegram_user_id=SHOPPER, chat_id=SHOPPER, name="小林")
            db.add(customer)
            await db.flush()
            db.add(Conversation(customer_id=customer.id, opened_at=console.MORNING,
                                last_activity_at=console.MORNING))
            await repo.commit()
            customer_id = customer.id

        async def open_topic(app: App) -> int:
            async with app.sessions() as db:
                repo = Repo(db)
                customer = await repo.customers.get(customer_id)
                conversation = await repo.conversations.open_for_customer(customer_id)
                assert app.console is not None and customer and conversation
                topic = await app.console.ensure_topic(repo, customer, conversation)
                await repo.commit()
                return int(topic.thread_id)

        threads = await asyncio.gather(*(open_topic(app) for app in apps))
        assert len(created) == 1 and threads[0] == threads[1]
    finally:
        for app in apps:
            await app.close()


# ------------------------------------------------------------------ large imports off the loop
async def test_posted_orders_and_catalogue_are_parsed_off_the_event_loop(
        settings: Settings, sessions: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large post (orders, catalogue, stock) is parsed on a worker thread: the event loop
    that answers shoppers is not held for the parse (measured speed belongs in bench/)."""
    threads: dict[str, str] = {}

    def spy(module: Any, name: str) -> None:
        real = getattr(module, name)

        def recorded(*args: Any, **kw: Any) -> Any:
            threads[name] = threading.current_thread().name
            return real(*args, **kw)

        monkeypatch.setattr(module, name, recorded)

    spy(order_import, "parse_json")
    spy(importer, "parse_json")
    spy(importer, "parse_updates")
    settings = settings.model_copy(update={"orders_api_token": SecretStr("s3cret")})
    api = build_orders_api(settings, sessions, OrderDesk(settings, products.FakeReplier()),
                           FixedClock(console.MORNING))
    auth = {"Authorization": "Bearer s3cret"}
    async with TestClient(TestServer(api)) as client:
        await client.post("/orders", headers=auth, json=[])
        await client.post("/catalogue", headers=auth, json=[])
        await client.post("/catalogue/stock", headers=auth, json=[])
    main = threading.main_thread().name
    assert set(threads) == {"parse_json", "parse_updates"}
    assert all(name != main for name in threads.values()), threads
