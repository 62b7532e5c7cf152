"""FAQ changes as services (P4, P10): an import's diff, the undo that restores exactly, and an
inbox action tried on a copy first. The dispatcher side, in Chinese: test_bulk_changes.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services import faq_changes as fc
from bot.services import owner_admin as oa
from bot.services.knowledge import KnowledgeBase
from phrases.faq_file import FaqEntry
from phrases.understand import Understander
from storage.models import Conversation, Customer, Message, Sender
from storage.repositories import Repo
from tests.owner_support import asked as shopper_asked

OWNER = 900
NOW = datetime(2026, 12, 3, 4, tzinfo=UTC)
SINCE = NOW - timedelta(days=30)


async def live(repo: Repo, lang: str = "zh") -> list[tuple[object, ...]]:
    return [(r.key, r.question, r.answer, tuple(r.alt or ()), r.threshold)
            for r in await repo.faq.all(lang)]


def test_merge_names_what_it_adds_and_changes_replace_also_what_it_removes() -> None:
    a, b = FaqEntry("a", "问一", "答一"), FaqEntry("b", "问二", "答二", threshold=0.7)
    current = [a, b, FaqEntry("c", "问三", "答三")]
    incoming = [FaqEntry("b", "问二", "新答二"), FaqEntry("a", "问一", "答一"),
                FaqEntry("d", "问四", "答四")]
    merge = fc.diff(current, incoming, fc.MERGE)
    assert [e.id for e in merge.added] == ["d"] and [n.id for _, n in merge.changed] == ["b"]
    assert merge.removed == () and merge.kept == 2
    replace = fc.diff(current, incoming, fc.REPLACE)
    assert [e.id for e in replace.removed] == ["c"] and replace.kept == 1
    # a file without a threshold keeps the live one: not a change
    assert fc.diff([b], [FaqEntry("b", "问二", "答二")], fc.MERGE).empty


async def test_replace_then_undo_restores_thresholds_phrasings_and_order_P10(
    repo: Repo, kb: KnowledgeBase,
) -> None:
    [first, *_] = await repo.faq.all("zh")
    first.threshold = 0.42
    await repo.commit()
    await oa.upsert_faq(repo, kb, OWNER, oa.FaqEdit("gift_card", "zh", "有礼品卡吗？", "有的。"))
    before = await live(repo)
    await fc.apply_import(repo, kb, OWNER, "zh", [FaqEntry("only", "唯一的问题", "唯一的回答")],
                          fc.REPLACE)
    assert [k for k, *_ in await live(repo)] == ["only"]
    undone = await fc.undo_last(repo, kb, OWNER, NOW)
    assert undone is not None and undone.action == "faq_import"
    assert await live(repo) == before and kb.entry("gift_card", "zh") is not None
    undone = await fc.undo_last(repo, kb, OWNER, NOW)  # LIFO: then the /faqset
    assert undone is not None and undone.action == "faq_set"
    assert await repo.faq.get("gift_card", "zh") is None


async def test_inbox_preview_changes_nothing_and_names_the_answers_it_moves_P4(
    repo: Repo, kb: KnowledgeBase,
) -> None:
    asked = [await shopper_asked(repo, text, NOW, lang="zh")
             for text in ("可以寄到南极吗", "能寄到南极吗？急")]
    before = await live(repo)
    preview = await fc.preview_inbox(repo, kb, asked[0].id, SINCE, key="exchange")
    assert preview.now is None and preview.after == "exchange"
    assert [s.question for s in preview.shifts] == ["能寄到南极吗？急"]
    assert preview.shifts[0].before is None and preview.shifts[0].after == "exchange"
    assert await live(repo) == before
    await oa.inbox_to_phrasing(repo, kb, OWNER, asked[0].id, "exchange", SINCE)
    assert [q.text for q in await oa.unanswered_questions(repo, SINCE)] == ["能寄到南极吗？急"]
    undone = await fc.undo_last(repo, kb, OWNER, NOW)
    assert undone is not None and undone.reopened == 1
    assert await live(repo) == before and len(await oa.unanswered_questions(repo, SINCE)) == 2


async def test_inbox_phrasing_that_would_answer_a_dismissed_question_is_flagged_P4(
    repo: Repo, kb: KnowledgeBase,
) -> None:
    """Questions the owner dismissed are known to be out of scope; a phrasing that would make
    the bot answer one of them from the FAQ is flagged in the preview (the learning loop must
    not teach wrong answers: bench/learning_curve.py)."""
    customer = Customer(telegram_user_id=78, chat_id=78)
    repo.session.add(customer)
    await repo.session.flush()
    conversation = Conversation(customer_id=customer.id, language="zh")
    repo.session.add(conversation)
    await repo.session.flush()
    rows = {}
    for text, inbox in (("可以寄到南极吗", None), ("可以寄到火星吗", "dismissed"),
                        ("你们老板是谁", "dismissed")):
        meaning = {"decision": "none", "language": "zh", **({"inbox": inbox} if inbox else {})}
        rows[text] = Message(conversation_id=conversation.id, sender=Sender.SHOPPER, text=text,
                             created_at=NOW, meaning=meaning)
        repo.session.add(rows[text])
    await repo.commit()
    assert fc.verdict(kb.understand("可以寄到火星吗", "zh")) is None  # not answered today
    preview = await fc.preview_inbox(repo, kb, rows["可以寄到南极吗"].id, SINCE, key="exchange")
    assert preview.after == "exchange"
    assert preview.out_of_scope == ("可以寄到火星吗",)  # the unrelated one is not named
    entry = await fc.preview_inbox(repo, kb, rows["可以寄到南极吗"].id, SINCE,
                                   answer="南极暂时寄不到哦")
    assert entry.out_of_scope == ("可以寄到火星吗",)  # a new entry would answer it too


def test_a_phrasing_that_pulls_a_dismissed_question_towards_its_entry_is_flagged() -> None:
    """A dismissed (out-of-scope) question already answered wrongly, or held back only by a
    close runner-up, is not "newly answered"; a phrasing that raises its entry's score on it
    still teaches the wrong answer, so the preview names it too (pulled_in)."""
    base = [FaqEntry("ship_abroad", "能寄到国外吗？", "可以寄到大部分国家。"),
            FaqEntry("ship_time", "什么时候发货？", "48小时内发货。"),
            FaqEntry("mars_mug", "火星图案的杯子还有吗？", "火星图案杯子已售罄。")]
    before = Understander(base)
    after = Understander([FaqEntry("ship_abroad", "能寄到国外吗？", "可以寄到大部分国家。",
                                   ("可以寄到火星去吗",)), *base[1:]])
    dismissed = ["可以寄到火星吗", "火星离地球多远", "你们老板是谁"]
    assert fc.newly_answered(before.understand, after, dismissed) == ()
    assert fc.pulled_in(before.understand, after, "ship_abroad", dismissed) == ("可以寄到火星吗",)
    assert fc.pulled_in(before.understand, after, "ship_time", dismissed) == ()
