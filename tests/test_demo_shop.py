"""The demo shop shipped with the bot: shop file and FAQ in both languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from phrases.faq_file import load_faq_file
from phrases.splitting import split_message
from phrases.tone import check_tone

DEMO = Path(__file__).resolve().parent.parent / "bot" / "demo"
LANGS = ("zh", "en")


def _yaml(name: str) -> Any:
    return yaml.safe_load((DEMO / name).read_text(encoding="utf-8"))


def test_shop_file_has_what_the_bot_needs() -> None:
    shop = _yaml("shop.yaml")
    assert "Pine & Thread" in shop["name"] and "松线小铺" in shop["name"]
    assert shop["languages"] == ["zh", "en"]
    assert shop["timezone"] == "Asia/Shanghai"
    assert shop["sla_greeting_seconds"] == 15  # P1
    assert shop["sla_reply_seconds"] == 20  # P2
    assert shop["agent_cap"] == 5
    assert set(shop["faq"]) == set(LANGS)
    for lang in LANGS:
        assert (DEMO / shop["faq"][lang]).is_file()


def test_shop_file_loads_as_settings() -> None:
    settings_module = pytest.importorskip("bot.settings")
    settings = settings_module.load_settings({})  # no SHOP_CONFIG: the demo shop
    assert settings.shop_name == _yaml("shop.yaml")["name"]
    assert settings.faq_files["en"] == DEMO / "faq.en.yaml"


@pytest.mark.parametrize("lang", LANGS)
def test_faq_raw_format(lang: str) -> None:
    data = _yaml(f"faq.{lang}.yaml")
    entries = data["faq"]
    assert 20 <= len(entries) <= 30
    for entry in entries:
        assert set(entry) == {"id", "question", "answer", "alt"}, entry.get("id")
        assert isinstance(entry["id"], str) and entry["id"].isidentifier()
        assert entry["question"].strip() and entry["answer"].strip()
        assert 2 <= len(entry["alt"]) <= 3, entry["id"]


@pytest.mark.parametrize("lang", LANGS)
def test_faq_loads_with_the_bots_loader(lang: str) -> None:
    faq = load_faq_file(DEMO / f"faq.{lang}.yaml")
    ids = [e.id for e in faq.entries]
    assert len(ids) == len(set(ids)) >= 20


def test_same_ids_in_both_languages() -> None:
    zh = [e["id"] for e in _yaml("faq.zh.yaml")["faq"]]
    en = [e["id"] for e in _yaml("faq.en.yaml")["faq"]]
    assert zh == en


@pytest.mark.parametrize("lang", LANGS)
def test_p2_some_answers_are_long_enough_to_be_split(lang: str) -> None:
    long = [e for e in _yaml(f"faq.{lang}.yaml")["faq"] if len(e["answer"].strip()) > 350]
    assert len(long) >= 2
    for entry in long:
        assert len(split_message(entry["answer"], limit=350)) >= 2


@pytest.mark.parametrize("lang", LANGS)
def test_p9_demo_faq_uses_no_negative_language(lang: str) -> None:
    bad = [
        (e["id"], [p.term for p in check_tone(e["answer"]).problems])
        for e in _yaml(f"faq.{lang}.yaml")["faq"]
        if not check_tone(e["answer"]).ok
    ]
    assert bad == []
