"""Every inline button goes through one CallbackData factory (handlers/keyboards.py), and the
strings already sitting under messages in people's chats keep working after an upgrade.

The formats listed here are the ones the bot has sent since each button existed; a factory
that packs them differently would strand every button sent before the upgrade. A forged or
malformed press gets an "expired" pop-up, never an exception.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram.filters.callback_data import CallbackData

from bot.services import callbacks
from handlers import keyboards as kb
from phrases.catalogue import PhraseCatalogue, say
from phrases.staff import StaffWords
from tests.fakes.updates import callback_update
from tests.test_agent_console import ALICE, GROUP, OWNER, SHOPPER, H
from tests.test_security import start

# (the string as sent before the upgrade, the factory that reads it, the fields it holds)
FORMATS: list[tuple[str, type[CallbackData], dict[str, object]]] = [
    ("faq:ship_time", kb.FaqPick, {"entry": "ship_time"}),
    ("fb:up:ship_time", kb.FaqFeedback, {"verdict": "up", "entry": "ship_time"}),
    ("fb:down:ship_time", kb.FaqFeedback, {"verdict": "down", "entry": "ship_time"}),
    ("human", kb.AskHuman, {}),
    ("prod:pick:12", kb.ProductAction, {"action": "pick", "product_id": 12}),
    ("prod:rec:7", kb.ProductAction, {"action": "rec", "product_id": 7}),
    ("sv:3:5", kb.SurveyScore, {"survey_id": 3, "score": 5}),
    ("svskip:3", kb.SurveySkip, {"survey_id": 3}),
    ("fu:9:ok", kb.FollowUpAnswer, {"row_id": 9, "outcome": "ok"}),
    ("fu:9:problem", kb.FollowUpAnswer, {"row_id": 9, "outcome": "problem"}),
    ("fq:9:attitude:4", kb.FollowUpScore, {"row_id": 9, "aspect": "attitude", "score": 4}),
    ("as:kind:return", kb.TicketPick, {"step": "kind", "value": "return"}),
    ("as:order:20260501001", kb.TicketPick, {"step": "order", "value": "20260501001"}),
    ("as:order:-", kb.TicketPick, {"step": "order", "value": "-"}),
    ("as:done", kb.TicketDone, {"step": "done"}),
    ("forget:yes", kb.ForgetConfirm, {"answer": "yes"}),
    ("tg:rw:41", kb.ToneChoice, {"choice": "rw", "hit_id": 41}),
    ("tg:og:41", kb.ToneChoice, {"choice": "og", "hit_id": 41}),
    ("sw:acc:5", kb.SwapAnswer, {"action": "acc", "swap_id": 5}),
    ("sw:dec:5", kb.SwapAnswer, {"action": "dec", "swap_id": 5}),
    ("ntc:send", kb.NoticeAction, {"action": "send"}),
    ("ntca:all", kb.NoticeAudience, {"segment": "all"}),
    ("own:tpl:save", kb.OwnerTemplate, {"action": "save"}),
    ("own:tpl:confirm", kb.OwnerTemplate, {"action": "confirm"}),
    ("own:inb:new:77", kb.InboxButton, {"action": "new", "message_id": 77}),
    ("own:inb:dis:77", kb.InboxButton, {"action": "dis", "message_id": 77}),
    ("own:inb:alt:77:moon_socks", kb.InboxPhrasing, {"message_id": 77, "entry": "moon_socks"}),
    ("own:imp:merge", kb.ImportChoice, {"mode": "merge"}),
    ("own:ibc:confirm", kb.InboxChoice, {"action": "confirm"}),
    ("own:agt:add:902", kb.AgentChoice, {"action": "add", "user_id": 902}),
    ("own:swp:ok:5", kb.SwapDecision, {"action": "ok", "swap_id": 5}),
    ("own:lve:12", kb.LeaveDecision, {"event_id": 12}),
    ("own:cpl:charge:8", kb.ComplaintAction, {"action": "charge", "complaint_id": 8}),
    ("own:cpl:8", kb.OldComplaintButton, {"complaint_id": 8}),
]
FACTORIES = sorted({factory for _, factory, _ in FORMATS}, key=lambda f: f.__name__)


@pytest.mark.parametrize(("data", "factory", "fields"), FORMATS, ids=[f[0] for f in FORMATS])
def test_each_sent_format_reads_back_and_packs_the_same(
    data: str, factory: type[CallbackData], fields: dict[str, object],
) -> None:
    button = factory.unpack(data)
    assert {k: getattr(button, k) for k in fields} == fields
    assert button.pack() == data
    # Exactly one factory reads each string: several share the "own" and "as" prefixes.
    readers = [f.__name__ for f in FACTORIES if _reads(f, data)]
    assert readers == [factory.__name__]


def test_every_factory_in_the_module_is_listed() -> None:
    """A new button needs its format here, so nobody changes one unnoticed."""
    declared = {obj for obj in vars(kb).values()
                if isinstance(obj, type) and issubclass(obj, CallbackData)
                and obj is not CallbackData}
    assert declared == set(FACTORIES)


def test_what_the_services_write_is_what_the_factories_read() -> None:
    """The services (no aiogram) write plain strings through bot.services.callbacks; each
    must be its factory's string."""
    pairs: list[tuple[str, CallbackData]] = [
        (callbacks.ASK_HUMAN, kb.AskHuman()),
        (callbacks.faq_pick("ship_time"), kb.FaqPick(entry="ship_time")),
        (callbacks.faq_feedback(True, "ship_time"),
         kb.FaqFeedback(verdict="up", entry="ship_time")),
        (callbacks.faq_feedback(False, "ship_time"),
         kb.FaqFeedback(verdict="down", entry="ship_time")),
        (callbacks.product("sizes", 12), kb.ProductAction(action="sizes", product_id=12)),
        (callbacks.survey_score(3, 5), kb.SurveyScore(survey_id=3, score=5)),
        (callbacks.survey_skip(3), kb.SurveySkip(survey_id=3)),
        (callbacks.follow_up(9, "problem"), kb.FollowUpAnswer(row_id=9, outcome="problem")),
        (callbacks.follow_up_score(9, "time", 2),
         kb.FollowUpScore(row_id=9, aspect="time", score=2)),
        (callbacks.tone(callbacks.TONE_REWRITE, 41), kb.ToneChoice(choice="rw", hit_id=41)),
        (callbacks.tone(callbacks.TONE_ORIGINAL, 41), kb.ToneChoice(choice="og", hit_id=41)),
    ]
    assert [written for written, _ in pairs] == [factory.pack() for _, factory in pairs]


@pytest.mark.parametrize("data", [
    "sv:abc", "sv:1", "sv:3:9", "sv:99999999999999999999999:5", "fu:x", "fu:", "fu:9:maybe",
    "fq:9:attitude:7", "as:kind", "as:order", "faq", "fb:meh:x", "prod:buy:1", "prod:pick:x",
    "tg:xx:1", "sw:abc", "own:zzz", "own:tpl:burn", "own:cpl:x", "forget:no", "human:1",
])
def test_forged_strings_match_no_factory(data: str) -> None:
    assert [f.__name__ for f in FACTORIES if _reads(f, data)] == []


def test_keyboard_leaves_out_what_telegram_would_refuse() -> None:
    markup = kb.keyboard([("ok", kb.TicketPick(step="order", value="A-1")),
                          ("long", kb.TicketPick(step="order", value="x" * 80)),
                          ("colon", kb.TicketPick(step="order", value="a:b"))])
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [["as:order:A-1"]]


@pytest.fixture
async def h(db_url: str) -> AsyncIterator[H]:
    harness = await start(db_url)
    yield harness
    await harness.app.close()


def _pop_ups(h: H) -> list[str]:
    return [r.text or "" for r in h.session.requests_of("answerCallbackQuery")]


async def test_forged_presses_get_an_expired_pop_up_in_every_chat(
    h: H, caplog: pytest.LogCaptureFixture,
) -> None:
    """Shopper, owner, staff (swap) and the agents' group each answer with "expired"."""
    catalogue = PhraseCatalogue.builtin()
    shopper_expired = {say(catalogue, "button_expired", lang)[0] for lang in ("zh", "en")}
    staff_expired = {StaffWords(catalogue, lang)("button.expired") for lang in ("zh", "en")}
    for data in ("sv:abc", "fu:x", "fq:1:attitude:9", "as:kind", "prod:buy:1", "human:1"):
        await h.feed(callback_update(h.uid(), SHOPPER, data))
    assert _pop_ups(h) and set(_pop_ups(h)) <= shopper_expired
    h.session.requests.clear()
    await h.feed(callback_update(h.uid(), OWNER, "own:tpl:burn"))
    await h.feed(callback_update(h.uid(), OWNER, "own:cpl:x"))
    await h.feed(callback_update(h.uid(), ALICE, "sw:abc"))
    await h.feed(callback_update(h.uid(), ALICE, "tg:xx:1", chat_id=GROUP,
                                 chat_type="supergroup"))
    pops = _pop_ups(h)
    assert len(pops) == 4 and set(pops) <= staff_expired
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


def _reads(factory: type[CallbackData], data: str) -> bool:
    try:
        factory.unpack(data)
    except (TypeError, ValueError):
        return False
    return True
