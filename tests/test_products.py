"""The catalogue (P5, P6): import, product questions, size advice, recommendations, endpoint.

Dispatcher tests run on the demo shop, which ships a small catalogue (bot/demo/catalogue.json):
亚麻衬衫 LS01 (promotion, XL 白色 sold out with a restock date), 纯棉T恤 CT01, 牛津纺衬衫 OS01
(shares the alias 白衬衫 with LS01), 亚麻连衣裙 DR01 (best seller, out of stock), …
"""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import event, select

from bot.clock import FixedClock
from bot.orders_api import build_orders_api
from bot.services.callbacks import product as button_data
from bot.services.orders import OrderDesk
from bot.services.products import importer
from bot.services.products.index import measures_in, normalise
from bot.services.replies import Reply
from bot.settings import Settings
from handlers.catalogue import ProductAction
from phrases.sizing import mark_body, parse_body, pick_size
from storage.models import Event
from storage.models.products import PaymentReminder, Product, ProductVariant, ReminderStatus
from storage.repositories import Repo
from tests.fakes.updates import callback_update, message_update
from tests.harness import BotHarness
from tests.owner_support import FileSession

MORNING = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai, promotion running
SHANGHAI = Settings.model_fields["timezone"].default
SHOPPER = 5001
OWNER = 900

GOOD_CSV = "\n".join([
    "code,sku,title_zh,title_en,aliases,size,colour_zh,colour_en,price,promo_price,promo_ends,"
    "stock,material_zh,fit,tags,size_chart",
    "T1,T1-S,棉麻短裤,Linen shorts,短裤|shorts,S,白色,white,99,,,5,棉麻,loose,summer,"
    "S:150-160/40-50|M:158-168/48-58",
    "T1,T1-M,,,,M,白色,white,99,79,2026-12-31,0,,,,",
    "T2,T2-1,竹纤维袜,Bamboo socks,,均码,灰色,grey,29,,,100,,,gift,",
    "",
])

BAD_CSV = """code,sku,title_zh,size,price,promo_price,stock,fit,size_chart
T1,T1-S,棉麻短裤,S,99,,5,loose,
T1,T1-M,,M,abc,,-1,,
,T3-1,袜子,均码,29,,3,,
T4,T4-1,帽子,均码,29,39,3,baggy,S:tall
T1,T1-S,棉麻短裤,S,99,,5,,
"""


class FakeReplier:
    def __init__(self) -> None:
        self.sent: list[tuple[int, Reply]] = []

    async def send(self, chat_id: int, reply: Reply) -> int | None:
        self.sent.append((chat_id, reply))
        return len(self.sent)


@dataclass
class Harness(BotHarness):
    session: FileSession
    ids: Any = None

    async def say(self, text: str, user: int = SHOPPER, **kw: Any) -> list[str]:
        self.session.requests.clear()
        await self.feed(message_update(next(self.ids), user, text, **kw))
        return [html.unescape(t) for t in self.sent(user)]

    async def tap(self, data: str, user: int = SHOPPER) -> list[str]:
        self.session.requests.clear()
        await self.feed(callback_update(next(self.ids), user, data))
        return [html.unescape(t) for t in self.sent(user)]


@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[Harness]:
    h = await Harness.start(settings, MORNING, FileSession(), ids=itertools.count(1))
    await h.say("你好")  # greeted; the tests start mid-conversation
    yield h
    await h.app.close()


# ---------------------------------------------------------------------- import
async def test_csv_import_creates_products_with_variants_and_updates_on_reimport_P5(
    repo: Repo, settings: Settings,
) -> None:
    result = importer.parse_csv(GOOD_CSV, settings.tz)
    assert result.ok, result.errors
    await importer.apply(repo, result)
    await repo.commit()
    shorts = await repo.products.by_code("T1")
    assert shorts is not None and shorts.title_en == "Linen shorts"
    assert shorts.aliases == ["短裤", "shorts"] and shorts.fit == "loose"
    assert [v.sku for v in shorts.variants] == ["T1-S", "T1-M"]
    medium = shorts.variants[1]
    assert medium.price_cents == 9900 and medium.promo_price_cents == 7900 and medium.stock == 0
    assert medium.promo_ends_at is not None and medium.promo_ends_at.astimezone(
        settings.tz).strftime("%H:%M") == "23:59"  # a bare date: the end of that day
    assert shorts.size_chart[1] == {"size": "M", "height": [158.0, 168.0],
                                    "weight": [48.0, 58.0]}
    again = importer.parse_csv(GOOD_CSV.replace(",5,棉麻", ",7,棉麻"), settings.tz)
    await importer.apply(repo, again)
    await repo.commit()
    assert again.created == 0 and again.updated == 2
    variants = await repo.products.variants_by_sku(["T1-S"])
    assert variants["T1-S"].stock == 7


async def test_bad_rows_are_listed_by_line_and_nothing_is_imported_P5(
    tmp_path: Path, settings: Settings, sessions,
) -> None:
    from bot.cli.catalogue import run_import

    path = tmp_path / "catalogue.csv"
    path.write_text(BAD_CSV, encoding="utf-8")
    code, lines = await run_import(settings, path)
    text = "\n".join(lines)
    assert code == 1
    assert "line 3: price 'abc'" in text and "line 3: stock '-1'" in text
    assert "line 4: code missing" in text
    assert "line 5: fit 'baggy'" in text and "line 5: size_chart" in text
    assert "line 5: promo_price is higher than price" in text
    assert "line 6: sku T1-S repeats line 2" in text
    assert "line 2:" not in text
    async with sessions() as db:
        assert list(await db.scalars(select(Product))) == []


async def test_json_import_by_command_line_and_a_new_sku_needs_a_price_P5(
    tmp_path: Path, settings: Settings, sessions,
) -> None:
    from bot.cli.catalogue import run_import

    item = {"code": "H1", "title": {"zh": "草帽", "en": "Straw hat"},
            "variants": [{"sku": "H1-1", "size": "均码", "price": "59", "stock": 3},
                         {"sku": "H1-2", "size": "均码", "stock": 3}]}
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps([item, "x"]), encoding="utf-8")
    code, lines = await run_import(settings, path)
    assert code == 1 and lines[0] == "item 2: expected an object"
    path.write_text(json.dumps({"products": [item]}), encoding="utf-8")
    code, lines = await run_import(settings, path)
    assert code == 1 and "item 1 variant 2: new sku H1-2 needs a price" in lines
    item["variants"][1]["price"] = "59"
    path.write_text(json.dumps({"products": [item]}), encoding="utf-8")
    code, lines = await run_import(settings, path)
    assert code == 0 and "1 new products" in lines[-1]
    async with sessions() as db:
        assert len(list(await db.scalars(select(ProductVariant)))) == 2


async def test_owner_imports_a_file_in_telegram_all_or_nothing_P5(h: Harness) -> None:
    h.session.files["bad.csv"] = BAD_CSV.encode()
    h.session.add_result("getFile", {"file_id": "c1", "file_unique_id": "c1u",
                                     "file_path": "bad.csv"})
    doc = {"document": {"file_id": "c1", "file_unique_id": "c1u", "file_name": "bad.csv"},
           "caption": "/catalogueimport"}
    [reply] = await h.say(None, OWNER, **doc)  # type: ignore[arg-type]
    assert "没有导入" in reply and "第 3 行：price 'abc' 要写成金额（0 或以上）" in reply
    assert "第 4 行：code 缺少或格式有误（—）" in reply
    assert "第 6 行：sku T1-S 和第 2 行重复" in reply  # where a problem is, in words too
    h.session.files["good.csv"] = GOOD_CSV.encode()
    h.session.add_result("getFile", {"file_id": "c2", "file_unique_id": "c2u",
                                     "file_path": "good.csv"})
    doc = {"document": {"file_id": "c2", "file_unique_id": "c2u", "file_name": "good.csv"},
           "caption": "/catalogueimport"}
    [reply] = await h.say(None, OWNER, **doc)  # type: ignore[arg-type]
    assert "新增2个商品" in reply and "3个SKU" in reply
    answer = await h.say("棉麻短裤多少钱")  # live at once: the index was rebuilt
    assert any("¥79" in text and "¥99" in text for text in answer)


async def test_stock_endpoint_needs_the_orders_token_and_updates_by_sku_P5(
    settings: Settings, sessions,
) -> None:
    settings = settings.model_copy(update={"orders_api_token": SecretStr("s3cret")})
    async with sessions() as db:
        repo = Repo(db)
        await importer.apply(repo, importer.parse_csv(GOOD_CSV, settings.tz))
        await repo.commit()
    changed: list[bool] = []

    async def on_change() -> None:
        changed.append(True)

    api = build_orders_api(settings, sessions, OrderDesk(settings, FakeReplier()),
                           FixedClock(MORNING), on_change)
    update = [{"sku": "T1-M", "stock": 4, "promo_price": None}]
    async with TestClient(TestServer(api)) as client:
        assert (await client.post("/catalogue/stock", json=update)).status == 401
        auth = {"Authorization": "Bearer s3cret"}
        bad = await client.post("/catalogue/stock", headers=auth,
                                json=[*update, {"sku": "NOPE", "stock": 1}])
        assert bad.status == 422 and (await bad.json())["errors"] == ["item 2: unknown sku NOPE"]
        assert not changed
        good = await client.post("/catalogue/stock", json=update,
                                 headers={"X-Orders-Token": "s3cret"})
        assert good.status == 200 and (await good.json())["variants"] == 1 and changed
    async with sessions() as db:
        variant = (await Repo(db).products.variants_by_sku(["T1-M"]))["T1-M"]
        assert variant.stock == 4 and variant.promo_price_cents is None


# ---------------------------------------------------------------------- questions
async def test_price_question_names_the_promotion_and_its_end_zh_P5(h: Harness) -> None:
    [answer] = await h.say("这款亚麻衬衫多少钱")
    assert "亚麻衬衫" in answer and "¥199" in answer and "¥159" in answer
    assert "12月31日" in answer


async def test_price_question_in_english_with_a_typo_P5(h: Harness) -> None:
    answer = await h.say("how much is the linnen shirt?", language_code="en")
    assert any("Linen shirt" in t and "¥159" in t and "31 December" in t for t in answer)


async def test_size_and_colour_stock_with_restock_date_and_alternatives_P5(h: Harness) -> None:
    [answer] = await h.say("亚麻衬衫白色XL有货吗")
    assert "卖完" in answer and "12月20日" in answer and "燕麦色" in answer
    [answer] = await h.say("亚麻衬衫白色M码有货吗")
    assert "有货" in answer and "白色 M" in answer


async def test_product_in_context_from_an_earlier_message_P5(h: Harness) -> None:
    await h.say("纯棉T恤多少钱")
    [answer] = await h.say("有XL码吗")
    assert "纯棉T恤" in answer and "XL" in answer and "有货" in answer
    [answer] = await h.say("什么面料的")
    assert "精梳棉" in answer and "缩水" in answer  # material, with its care note


async def test_in_context_in_english_fit_and_stock_P5(h: Harness) -> None:
    await h.say("Tell me about the oxford shirt", language_code="en")
    answer = await h.say("does it run small?", language_code="en")
    assert any("slim fit" in t for t in answer)
    answer = await h.say("is XL in stock?", language_code="en")
    assert any("XL" in t and "in stock" in t for t in answer)


async def test_shipping_question_with_a_product_in_context_stays_with_the_faq(
    h: Harness,
) -> None:
    await h.say("纯棉T恤多少钱")
    answer = await h.say("运费多少钱")
    assert not any("纯棉T恤" in t for t in answer)


async def test_two_candidates_ask_which_with_buttons_then_answer_the_question_P4_P5(
    h: Harness,
) -> None:
    [question] = await h.say("白衬衫多少钱")
    assert "哪一款" in question
    picks = h.buttons()
    assert len(picks) == 2 and all(p.startswith("prod:pick:") for p in picks)
    async with h.app.sessions() as db:
        oxford = await Repo(db).products.by_code("OS01")
    assert oxford is not None and button_data("pick", oxford.id) in picks
    assert ProductAction(action="pick", product_id=oxford.id).pack() == button_data(
        "pick", oxford.id)
    [answer] = await h.tap(button_data("pick", oxford.id))
    assert "牛津纺衬衫" in answer and "¥189" in answer


async def test_a_product_named_alone_gets_its_card_with_photo_and_buttons_P5(
    h: Harness,
) -> None:
    await h.say("真丝围巾")
    [photo] = h.session.requests_of("sendPhoto")
    assert str(photo.photo.path).endswith("sc01.png")  # the demo's own picture, uploaded
    [card] = h.sent()
    assert "真丝围巾" in card and "¥169" in card and "桑蚕丝" in card
    assert any(b.startswith("prod:sizes:") for b in h.buttons())


async def test_a_product_asked_again_is_read_with_one_small_query_P5(h: Harness) -> None:
    """The desk holds each product; asked again, one query (its version) says it is current,
    where reading it was two (the product, its variants)."""
    await h.say("亚麻衬衫多少钱")
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "products" in statement or "product_variants" in statement:
            statements.append(statement)

    engine = h.app.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        [answer] = await h.say("亚麻衬衫多少钱")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert "¥159" in answer
    assert len(statements) == 1 and "product_variants" not in statements[0]


async def test_stock_price_and_fields_changed_elsewhere_are_answered_at_once_P5(
    h: Harness,
) -> None:
    """Another process (here: another session, this process's desk not told) posts stock and
    price, then imports new fields, within one clock tick: the next answers say the new ones
    (P5: stock and price as they are now)."""
    [before] = await h.say("亚麻衬衫白色M码有货吗")
    assert "有货" in before
    async with h.app.sessions() as db:
        repo = Repo(db)
        await importer.apply_updates(repo, importer.parse_updates(
            [{"sku": "LS01-1M", "stock": 0}], SHANGHAI), MORNING)
        await repo.commit()
    [after] = await h.say("亚麻衬衫白色M码有货吗")
    assert "卖完" in after and "白色 M" in after
    async with h.app.sessions() as db:
        repo = Repo(db)
        await importer.apply(repo, importer.parse_json(
            {"code": "LS01", "material": {"zh": "亚麻混纺", "en": "linen blend"}}, SHANGHAI),
            MORNING)
        await repo.commit()
    [material] = await h.say("亚麻衬衫是什么面料")
    assert "亚麻混纺" in material


# ---------------------------------------------------------------------- size advice
@pytest.mark.parametrize(("text", "height", "weight"), [
    ("我165 110斤穿什么码", 165, 55), ("1米65，55kg", 165, 55), ("5ft6 130lbs", 168, 59),
    ("1.65m 55公斤", 165, 55), ("身高170体重120", 170, 60), ("I'm 5'6\" and 130 lb", 168, 59),
    ("175 cm and 80 kg", 175, 80), ("180/70", 180, 70),
])
def test_body_sizes_in_every_common_form(text: str, height: int, weight: int) -> None:
    body = parse_body(text)
    assert body.height_cm == pytest.approx(height, abs=0.5)
    assert body.weight_kg == pytest.approx(weight, abs=0.5)


@pytest.mark.parametrize(("text", "marked"), [
    ("我165 110斤穿什么码", "我 H   W 穿什么码"), ("I'm 5ft6 and 130lbs", "I'm  H and  W "),
    ("身高170体重120", "身高 H 体重 W "), ("175 cm and 80 kg", " H  and  W "),
    ("1.8米床选220x240厘米被套", "1.8米床选220x240厘米被套"),  # a duvet's size, not a body
    ("满99包邮", "满99包邮"),
])
def test_body_measurements_are_marked_whatever_the_unit(text: str, marked: str) -> None:
    """What the FAQ matcher sees: a height or weight is one thing in cm, 斤, ft/in or lbs."""
    assert mark_body(text, {"height": "H", "weight": "W"}) == marked


def test_size_pick_from_a_chart_both_larger_and_the_looser_option() -> None:
    chart = [{"size": "S", "height": [150, 160], "weight": [40, 50]},
             {"size": "M", "height": [158, 168], "weight": [48, 58]},
             {"size": "L", "height": [166, 176], "weight": [56, 68]}]
    pick = pick_size(chart, parse_body("165cm 55kg"))
    assert pick is not None and (pick.size, pick.reason, pick.looser) == ("M", "both", "L")
    pick = pick_size(chart, parse_body("155cm 60kg"))  # short and heavier: the larger size
    assert pick is not None and (pick.size, pick.reason) == ("L", "larger")
    loose = pick_size(chart, parse_body("165cm 55kg"), fit="loose")
    assert loose is not None and loose.looser is None  # already loose: no "size up" advice


async def test_size_advice_names_one_size_and_why_zh_and_en_P5(h: Harness) -> None:
    [answer] = await h.say("纯棉T恤 我165 110斤穿什么码")
    assert "建议选M码" in answer and "165" in answer and "110斤" in answer
    assert "宽松一点可以选L码" in answer
    answer = await h.say("what size cotton tee for 5ft5 120lbs?", language_code="en")
    assert any("size M" in t and "5ft5" in t and "120lbs" in t for t in answer)


async def test_size_advice_in_context_and_without_a_chart_the_size_guide_P5(
    h: Harness,
) -> None:
    await h.say("亚麻衬衫多少钱")
    [answer] = await h.say("我1米72 65公斤呢")
    assert "建议选L码" in answer
    await h.say("真丝围巾")
    answer = await h.say("我165 55kg穿什么码")
    assert any("尺码表还在整理中" in t for t in answer)
    assert any("尺码表" in t for t in answer[1:])  # the FAQ's size guide follows


async def test_body_without_a_product_asks_which_item_then_advises_on_a_tap_P4_P5(
    h: Harness,
) -> None:
    """P5: height and weight with no product: not the size guide that asks for them again."""
    [question] = await h.say("我165 110斤穿什么码")
    assert "165" in question and "110斤" in question  # the measurements were understood
    assert "身高、体重" not in question and "建议选" not in question
    picks = h.buttons()
    assert picks and all(p.startswith("prod:pick:") for p in picks)
    async with h.app.sessions() as db:
        tee = await Repo(db).products.by_code("CT01")
        scarf = await Repo(db).products.by_code("SC01")
        dress = await Repo(db).products.by_code("DR01")
    assert tee is not None and scarf is not None and dress is not None
    assert button_data("pick", tee.id) in picks
    assert button_data("pick", scarf.id) not in picks  # one size: no size to choose
    assert button_data("pick", dress.id) not in picks  # sold out in every size
    [answer] = await h.tap(button_data("pick", tee.id))
    assert "纯棉T恤" in answer and "建议选M码" in answer and "110斤" in answer


async def test_body_without_a_product_then_the_item_named_in_english_P5(h: Harness) -> None:
    """The measurements are kept with the question (product_which): naming the item after
    the bot asked which one gives its size advice without asking for them again."""
    [question] = await h.say("I'm 5ft5 and 120lbs what size", language_code="en")
    assert "5ft5" in question and "120lbs" in question
    assert h.buttons() and "height and weight" not in question.lower()
    answer = await h.say("the cotton tee", language_code="en")
    assert any("size M" in t and "5ft5" in t for t in answer)


async def test_body_with_a_product_in_context_is_advised_without_asking_P5(h: Harness) -> None:
    await h.say("纯棉T恤有什么颜色")
    [answer] = await h.say("我165 110斤穿什么码")
    assert "纯棉T恤" in answer and "建议选M码" in answer


@pytest.mark.parametrize(("text", "asked"), [
    ("这件衬衫衣长多少", ["length"]), ("胸围和袖长是多少", ["chest", "sleeve"]),
    ("what is the sleeve length?", ["sleeve"]),
    ("length and waist of the trousers", ["length", "waist"]),
    ("我胸围96 腰围72 哪个号合适", []), ("胸围是96", []), ("my waist is 28, chest 38", []),
])
def test_a_garment_measure_asked_not_a_body_measure_given(text: str, asked: list[str]) -> None:
    """衣长多少 asks a garment's measure; 胸围96 / waist is 28 gives the shopper's own."""
    assert measures_in(normalise(text)) == asked


@pytest.mark.parametrize("text", ["这件衬衫衣长多少", "衣长多少", "胸围和袖长是多少"])
async def test_a_garment_measure_with_no_product_known_asks_which_then_the_chart_P5(
    h: Harness, text: str,
) -> None:
    """P5: a product's measure (衣长 胸围 肩宽 袖长 腰围 臀围) is the product desk's, before
    the FAQ (not the fabric-care entry that shares 衬衫): with no product known, which one."""
    answer = await h.say(text)
    care = h.app.knowledge.entry("fabric_care", "zh")
    assert care is None or not any(care.answer[:20] in t for t in answer)
    async with h.app.sessions() as db:
        linen = await Repo(db).products.by_code("LS01")
    assert linen is not None and button_data("pick", linen.id) in h.buttons()
    [chart] = await h.tap(button_data("pick", linen.id))
    assert "亚麻衬衫" in chart
    if "衣长" in text:
        assert "衣长" in chart and "S 68cm" in chart and "XL 74cm" in chart
    else:
        assert "胸围" in chart and "M 112cm" in chart and "袖长" in chart and "L 58cm" in chart


async def test_a_garment_measure_of_a_named_or_known_product_en_and_zh_P5(h: Harness) -> None:
    answer = await h.say("what's the waist on the linen wide-leg trousers?", language_code="en")
    assert any("waist" in t and "M 68cm" in t for t in answer)
    answer = await h.say("and the hip?", language_code="en")  # the trousers are in context
    assert any("hip" in t and "L 108cm" in t for t in answer)
    await h.say("羊绒开衫多少钱", language_code="zh")
    [answer] = await h.say("肩宽多少", language_code="zh")  # the cardigan's chart: no measures
    assert "羊绒开衫" in answer and "肩宽" in answer and "暂时没有数据" in answer
    assert not any(ch.isdigit() for ch in answer.split("肩宽")[1])  # no figure made up


# ---------------------------------------------------------------------- recommendations
async def test_recommendation_album_has_only_items_in_stock_P6(h: Harness) -> None:
    await h.say("夏天穿的有什么推荐")
    [album] = h.session.requests_of("sendMediaGroup")
    captions = [item.caption for item in album.media]
    assert len(captions) == 3
    assert not any("连衣裙" in c for c in captions)  # DR01 sells best but is out of stock
    assert any("亚麻衬衫" in c for c in captions)
    data = h.buttons()
    assert sum(d.startswith("prod:rec:") for d in data) == 3 and "human" in data
    async with h.app.sessions() as db:
        [shown] = [e for e in await db.scalars(select(Event))
                   if e.kind == "recommendation_shown"]
    first = data[0]
    [card] = await h.tap(first)
    assert "¥" in card
    async with h.app.sessions() as db:
        kinds = [e.kind for e in await db.scalars(select(Event))]
    assert "recommendation_clicked" in kinds and len(shown.data["products"]) == 3


async def test_gift_for_mother_prefers_items_tagged_for_her_P6(h: Harness) -> None:
    await h.say("想送妈妈一件礼物，有什么推荐吗")
    [album] = h.session.requests_of("sendMediaGroup")
    captions = " ".join(item.caption for item in album.media)
    assert "羊绒开衫" in captions and "真丝围巾" in captions


async def test_faq_questions_without_a_product_still_get_the_faq(h: Harness) -> None:
    answer = await h.say("可以礼品包装吗")
    assert not h.session.requests_of("sendMediaGroup")
    assert answer and "包装" in answer[0]


# ---------------------------------------------------------------------- 催付
class OrderHarness(Harness):
    async def load(self, records: list[dict[str, Any]]) -> None:
        from bot.services import order_import

        async with self.app.sessions() as db:
            repo = Repo(db)
            result = order_import.parse_json(records, self.app.settings.tz)
            assert result.ok, result.errors
            await order_import.apply(repo, result, self.clock.now())
            await repo.commit()

    async def remind(self, reminders: Any = None) -> list[str]:
        from bot.jobs.catalogue import build_reminders

        reminders = reminders or build_reminders(self.app)
        self.session.requests.clear()
        async with self.app.sessions() as db:
            await reminders.tick(Repo(db))
        return [html.unescape(t) for t in self.sent(SHOPPER)]


@pytest.fixture
async def oh(settings: Settings) -> AsyncIterator[OrderHarness]:
    h = await OrderHarness.start(settings, MORNING, FileSession(), ids=itertools.count(1))
    await h.say("你好")
    yield h
    await h.app.close()


UNPAID = {"order_id": "20261203001", "status": "unpaid", "telegram_user_id": SHOPPER,
          "items": ["亚麻衬衫 x 1"], "amount": "159"}


async def test_one_reminder_for_an_unpaid_order_after_the_delay_P22(oh: OrderHarness) -> None:
    await oh.load([UNPAID])
    assert await oh.remind() == []  # scheduled, not yet due (30 minutes)
    oh.clock.at = MORNING + timedelta(minutes=31)
    [reminder] = await oh.remind()
    assert "20261203001" in reminder and "付款" in reminder
    oh.clock.at = MORNING + timedelta(hours=5)
    assert await oh.remind() == []  # at most once
    [row] = await oh.rows(PaymentReminder)
    assert row.status == ReminderStatus.SENT


async def test_no_reminder_after_payment_or_cancellation(oh: OrderHarness) -> None:
    await oh.load([UNPAID, {**UNPAID, "order_id": "20261203002"}])
    await oh.remind()
    await oh.load([{"order_id": "20261203001", "status": "paid"},
                   {"order_id": "20261203002", "status": "cancelled"}])
    oh.clock.at = MORNING + timedelta(hours=1)
    assert await oh.remind() == []
    assert sorted(r.note for r in await oh.rows(PaymentReminder)) == ["cancelled", "paid"]


async def test_reminder_waits_for_service_hours_P24(oh: OrderHarness) -> None:
    late = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
    oh.clock.at = late
    await oh.load([UNPAID])
    await oh.remind()
    oh.clock.at = late + timedelta(minutes=45)  # due, but 22:45: outside 09:00-22:00
    assert await oh.remind() == []
    oh.clock.at = datetime(2026, 12, 4, 1, 5, tzinfo=UTC)  # 09:05 next morning
    assert len(await oh.remind()) == 1


async def test_stop_notices_means_no_reminder_P22(oh: OrderHarness) -> None:
    await oh.say("/stop_notices")
    await oh.load([UNPAID])
    await oh.remind()
    oh.clock.at = MORNING + timedelta(hours=1)
    assert await oh.remind() == []
    [row] = await oh.rows(PaymentReminder)
    assert row.status == ReminderStatus.DROPPED and row.note == "opted_out"


async def test_reminder_is_sent_once_across_a_restart(oh: OrderHarness) -> None:
    from bot.jobs.catalogue import build_reminders

    await oh.load([UNPAID])
    await oh.remind()
    oh.clock.at = MORNING + timedelta(minutes=40)
    first = build_reminders(oh.app)
    assert len(await oh.remind(first)) == 1
    restarted = await OrderHarness.start(oh.app.settings, oh.clock.now(), FileSession(),
                                         ids=itertools.count(100))
    try:
        restarted.clock.at = MORNING + timedelta(hours=2)
        assert await restarted.remind() == []
    finally:
        await restarted.app.close()


async def test_owner_edits_the_reminder_wording_through_the_tone_guard_P9(
    oh: OrderHarness,
) -> None:
    from bot.services import owner_admin as oa

    rude = oa.check_template(oh.app.knowledge, "inquiry.payment_reminder", "zh",
                             "订单{order_id}还没付，我不能一直给您留着。")
    assert rude.tone.problems  # P9: negative wording is flagged …
    kind = oa.check_template(oh.app.knowledge, "inquiry.payment_reminder", "zh",
                             "亲，订单{order_id}的宝贝给您留着呢，记得付款哦～")
    assert not kind.errors and not kind.tone.problems
    async with oh.app.sessions() as db:
        refused = await oa.save_template(Repo(db), oh.app.knowledge, OWNER, rude)
        assert refused and refused[0].key == "tpl.err.tone_unconfirmed"  # … not saved unconfirmed
        assert await oa.save_template(Repo(db), oh.app.knowledge, OWNER, kind) == []
    await oh.load([UNPAID])
    await oh.remind()
    oh.clock.at = MORNING + timedelta(minutes=31)
    assert await oh.remind() == ["亲，订单20261203001的宝贝给您留着呢，记得付款哦～"]


# ---------------------------------------------------------------------- agents
async def test_agents_inline_query_finds_products_and_their_cards_P5(h: Harness) -> None:
    from aiogram.types import Update

    from tests.fakes.updates import user_json

    await h.feed(Update.model_validate({"update_id": next(h.ids), "inline_query": {
        "id": "iq-p", "from": user_json(901), "query": "亚麻衬衫", "offset": ""}}))
    [answer] = h.session.requests_of("answerInlineQuery")
    first = answer.results[0]
    assert first.title == "🛍 亚麻衬衫" and first.id.startswith("product:")
    card = first.input_message_content.message_text
    assert "¥159" in card and "100%亚麻" in card and "燕麦色" in card
    await h.feed(Update.model_validate({"update_id": next(h.ids), "inline_query": {
        "id": "iq-s", "from": user_json(SHOPPER), "query": "亚麻衬衫", "offset": ""}}))
    assert len(h.session.requests_of("answerInlineQuery")) == 1  # shoppers get nothing


# ---------------------------------------------------------------------- reports
async def test_inquiry_conversion_reminders_and_recommendations_on_a_known_data_set_P23(
    repo: Repo,
) -> None:
    from bot.services.products.figures import sales_figures, sales_text
    from bot.services.reports.build import build_report
    from bot.services.reports.text import render_text
    from storage.models import Customer
    from storage.models.orders import Order

    day = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    people = [Customer(telegram_user_id=7000 + n, chat_id=7000 + n, name=f"c{n}",
                       first_seen_at=day, last_seen_at=day) for n in range(4)]
    repo.session.add_all(people)
    await repo.session.flush()
    a, b, c, d = people
    for who, hours in ((a, 0), (a, 3), (b, 1), (c, 2)):  # three shoppers asked (a twice)
        repo.session.add(Event(kind="product_asked", at=day + timedelta(hours=hours),
                               data={"customer": who.id, "product_id": 1}))
    orders = [
        Order(order_ref="R1", telegram_user_id=a.telegram_user_id,  # a: ordered 5 h later
              created_at=day + timedelta(hours=5), updated_at=day, status="paid"),
        Order(order_ref="R2", telegram_user_id=b.telegram_user_id,  # b: 3 days later: no
              created_at=day + timedelta(days=3), updated_at=day, status="pending"),
        Order(order_ref="R3", telegram_user_id=d.telegram_user_id,  # d never asked
              created_at=day + timedelta(hours=1), updated_at=day, status="paid"),
    ]
    repo.session.add_all(orders)
    await repo.session.flush()
    repo.session.add_all([
        PaymentReminder(order_id=orders[0].id, status="sent", due_at=day,
                        sent_at=day + timedelta(hours=6)),
        PaymentReminder(order_id=orders[1].id, status="sent", due_at=day,
                        sent_at=day + timedelta(days=3, hours=1)),
        Event(kind="recommendation_shown", at=day, data={}),
        Event(kind="recommendation_shown", at=day, data={}),
        Event(kind="recommendation_clicked", at=day, data={}),
    ])
    await repo.commit()
    start, end = day - timedelta(hours=2), day + timedelta(days=7)
    figures = await sales_figures(repo.session, start, end)
    assert (figures.inquiring_shoppers, figures.converted_shoppers) == (3, 1)
    assert (figures.reminders_sent, figures.reminders_paid) == (2, 1)
    assert (figures.recommendations_shown, figures.recommendations_clicked) == (2, 1)
    assert "询单转化率 33.3% (1/3)" in sales_text(figures, "zh")[0]
    report = await build_report(repo, start, end, "Asia/Shanghai")
    assert "inquiry conversion (48 h) 33.3% (1/3)" in render_text(report, "en")
    from bot.services.reports.export import tables

    rows = dict(tuple(row) for row in tables(report)["summary"][1:])
    assert rows["inquiring_shoppers"] == "3" and rows["converted_shoppers"] == "1"
    assert rows["payment_reminders_sent"] == "2" and rows["recommendations_clicked"] == "1"


async def test_one_cross_sell_after_a_paid_order_only_items_in_stock_P6(oh: OrderHarness) -> None:
    from bot.jobs.catalogue import build_cross_seller, build_reminders
    from storage.models.products import CrossSell

    seller = build_cross_seller(oh.app, build_reminders(oh.app))
    assert seller is not None
    await oh.load([{**UNPAID, "order_id": "20261203009", "status": "paid",
                    "items": ["亚麻衬衫 x 1"]}])

    async def tick() -> list[str]:
        oh.session.requests.clear()
        async with oh.app.sessions() as db:
            await seller.tick(Repo(db))
        return [html.unescape(t) for t in oh.sent(SHOPPER)]

    [suggestion] = await tick()  # LS01 is related to WP01 (in stock) and CB01
    assert "亚麻阔腿裤" in suggestion and "¥229" in suggestion
    assert oh.buttons()[0].startswith("prod:rec:")
    assert await tick() == []  # at most one per order
    await oh.load([{**UNPAID, "order_id": "20261203010", "status": "paid",
                    "items": ["亚麻连衣裙 x 1"]}])  # DR01 → CB01 only
    async with oh.app.sessions() as db:
        repo = Repo(db)
        for variant in (await repo.products.by_code("CB01")).variants:
            variant.stock = 0  # sold out: nothing is suggested
        await db.commit()
    assert await tick() == []
    rows = {r.order_id: r for r in await oh.rows(CrossSell)}
    assert sorted((r.product_code or "", r.sent) for r in rows.values()) == [
        ("", False), ("WP01", True)]


async def test_a_measure_of_another_kind_than_the_item_in_context_asks_which_P5(
        h: Harness) -> None:
    """"这件衬衫衣长多少" right after the T-shirt: the shopper means a shirt, so the T-shirt's
    chart would be a wrong answer; the bot asks which item. The same kind keeps the context."""
    await h.say("纯棉T恤多少钱")
    [answer] = await h.say("这件衬衫衣长多少")
    assert "纯棉T恤" not in answer and "衣长" in answer, answer
    assert any(d.startswith("prod:pick:") for d in h.buttons())
    await h.say("纯棉T恤多少钱")
    [answer] = await h.say("这件T恤衣长多少")
    assert "纯棉T恤" in answer and "M 68cm" in answer, answer
