"""The owner's controls as services: templates, FAQ, inbox, settings (P9, P10, P4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.services import owner_admin as oa
from bot.services.knowledge import KnowledgeBase
from bot.settings import Settings
from phrases.staff import StaffWords
from storage.models import Message
from storage.models.audit import AuditEntry
from storage.repositories import Repo
from tests.owner_support import asked

OWNER = 900
NOW = datetime(2026, 5, 4, 12, tzinfo=UTC)
SINCE = NOW - timedelta(days=30)


def some_key(kb: KnowledgeBase) -> str:
    return kb.catalogue.categories("zh")["farewell"][0].key


def test_template_with_attribute_access_is_refused_P10(kb: KnowledgeBase) -> None:
    check = oa.check_template(kb, some_key(kb), "zh", "再见 {x.__class__}")
    assert not check.savable and check.errors[0].key == "tpl.err.attribute"
    unknown = oa.check_template(kb, some_key(kb), "zh", "再见 {nobody}")
    assert not unknown.savable


def test_template_preview_uses_a_sample_customer_and_tone_warns_P3_P9(kb: KnowledgeBase) -> None:
    check = oa.check_template(kb, some_key(kb), "zh", "{customer_name}，可是我不能再帮您了")
    assert check.savable and check.preview.startswith("小林")
    assert not check.tone.ok and "可是" in {p.term for p in check.tone.problems}


async def test_saved_template_is_live_without_restart_and_audited(
    repo: Repo, kb: KnowledgeBase
) -> None:
    key = some_key(kb)
    check = oa.check_template(kb, key, "zh", "{customer_name}，欢迎下次再来松线小铺！")
    assert await oa.save_template(repo, kb, OWNER, check) == []
    assert kb.catalogue.get(key, "zh").text == check.text
    [change] = await repo.session.scalars(select(AuditEntry))
    assert change.actor_id == OWNER and change.details["key"] == key


async def test_faq_edit_is_answered_without_restart_P4(repo: Repo, kb: KnowledgeBase) -> None:
    edit = oa.parse_faq_edit("moon_socks en\nQ: Do you sell socks for astronauts?\n"
                             "A: Yes, moon socks, free of charge.\nALT: astronaut socks")
    assert (await oa.upsert_faq(repo, kb, OWNER, edit)).ok  # P9: no tone warning
    understood = kb.understand("do you sell socks for astronauts", "en")
    assert understood.decision == "answer" and understood.best.entry_id == "moon_socks"
    assert await oa.delete_faq(repo, kb, OWNER, "moon_socks", "en")
    assert kb.entry("moon_socks", "en") is None


def test_faq_edit_needs_question_and_answer() -> None:
    with pytest.raises(ValueError):
        oa.parse_faq_edit("k zh\nQ: only a question")
    with pytest.raises(ValueError):
        oa.parse_faq_edit("k xx\nQ: q\nA: a")


@pytest.mark.parametrize("fmt,name", [("yaml", "faq.yaml"), ("csv", "faq.csv")])
async def test_faq_export_then_import_round_trips(
    repo: Repo, kb: KnowledgeBase, fmt: str, name: str
) -> None:
    before = {(r.key, r.question, r.answer, tuple(r.alt)) for r in await repo.faq.all("zh")}
    data = await oa.export_faq(repo, "zh", fmt)
    assert await oa.import_faq(repo, kb, OWNER, "zh", name, data) == len(before)
    after = {(r.key, r.question, r.answer, tuple(r.alt)) for r in await repo.faq.all("zh")}
    assert after == before


async def test_bad_import_changes_nothing(repo: Repo, kb: KnowledgeBase) -> None:
    count = len(await repo.faq.all("en"))
    with pytest.raises(ValueError):
        await oa.import_faq(repo, kb, OWNER, "en", "x.csv", b"id,question\nq1,hello\n")
    with pytest.raises(ValueError):
        await oa.import_faq(repo, kb, OWNER, "en", "x.yaml", b"faq: [{id: a}]")
    assert len(await repo.faq.all("en")) == count


async def _asked(repo: Repo, text: str, decision: str = "none") -> Message:
    return await asked(repo, text, NOW, decision=decision)


async def test_inbox_groups_similar_questions_and_one_tap_adds_a_phrasing(
    repo: Repo, kb: KnowledgeBase
) -> None:
    question = "do you ship parcels to the moon base"
    first = await _asked(repo, question)
    await _asked(repo, "Do you ship parcels to the moon-base?")
    await _asked(repo, "what colour is the velvet sofa", "clarify")
    groups = oa.group_questions(await oa.unanswered_questions(repo, SINCE), kb)
    assert [len(g.questions) for g in groups] == [2, 1]
    key = next(iter(kb._entries["en"]))
    assert await oa.inbox_to_phrasing(repo, kb, OWNER, first.id, key, SINCE) == question
    assert kb.understand(question, "en").best.entry_id == key
    left = oa.group_questions(await oa.unanswered_questions(repo, SINCE), kb)
    assert [len(g.questions) for g in left] == [1]


async def test_inbox_question_becomes_a_new_entry(repo: Repo, kb: KnowledgeBase) -> None:
    message = await _asked(repo, "is the ceramic teapot dishwasher safe")
    key = await oa.inbox_to_entry(repo, kb, OWNER, message.id, "Yes, top rack.", SINCE)
    assert kb.entry(key, "en").answer == "Yes, top rack."
    assert await oa.unanswered_questions(repo, SINCE) == []


async def test_settings_are_validated_and_recorded(
    repo: Repo, settings: Settings, kb: KnowledgeBase,
) -> None:
    assert await oa.change_setting(repo, OWNER, "swap_limit", "3") == "3"
    assert await oa.change_setting(repo, OWNER, "complaint_steps", "30, 60, dismiss")
    # SLA seconds live in the shop file: an owner /set that changed nothing would mislead.
    for name, value in [("swap_limit", "-1"), ("complaint_steps", "x"),
                        ("sla_reply_seconds", "5"), ("nonsense", "1")]:
        with pytest.raises(ValueError):
            await oa.change_setting(repo, OWNER, name, value)
    text = await oa.settings_text(repo, settings, StaffWords(kb.catalogue, "en"))
    assert "swaps per agent per month: 3 (/set swap_limit <value>)" in text
    assert "reply deadline (s): 20 (set in the shop file; /set sla_reply_seconds says why)" in text
