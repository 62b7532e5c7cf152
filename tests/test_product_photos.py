"""Catalogue pictures (P5): a picture the shopper sends back names its product; a picture is
uploaded once and sent by its Telegram file_id after; the demo's picture paths are stored
relative to the catalogue's folder, not as this machine's absolute path; the report charts the
selling figures.

Runs on the demo shop through the dispatcher (``tests.test_products`` harness)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram.types import InputFile
from sqlalchemy import select

from bot.services.reports.charts import CHARTS, _fonts, build_figure
from bot.services.reports.model import Report
from storage.models.products import PhotoFile, Product
from tests import test_products as products
from tests.fakes.updates import message_update
from tests.test_products import SHOPPER, Harness

h = products.h  # the demo-shop harness fixture, shared


async def _sent_back(h: Harness, source: str, caption: str | None = None,
                     **kw: Any) -> list[str]:
    """The shopper sends back (forwards, or re-sends from the chat) the catalogue picture the
    bot sent them: Telegram gives it the same file_unique_id as the bot's upload."""
    assert h.app.photo_files is not None
    await h.app.photo_files.drain()
    async with h.app.sessions() as db:
        sizes = list(await db.scalars(select(PhotoFile).where(PhotoFile.source == source)))
    assert sizes, f"{source} was never uploaded"
    photo = [{"file_id": f"shopper-copy-{s.id}", "file_unique_id": s.file_unique_id,
              "width": 90, "height": 90} for s in sizes]
    h.session.requests.clear()
    await h.feed(message_update(next(h.ids), SHOPPER, None, photo=photo,
                                **({"caption": caption} if caption else {}), **kw))
    return h.sent(SHOPPER)


async def test_picture_sent_back_puts_its_product_in_context_zh_P5(h: Harness) -> None:
    await h.say("羊绒开衫")  # its card, with its picture
    await h.say("亚麻衬衫多少钱")  # now the shirt is the product in context
    [card] = await _sent_back(h, "photos/kc01.png")
    assert "羊绒开衫" in card  # the picture named the cardigan
    [answer] = await h.say("这个有M码吗")
    assert "羊绒开衫" in answer and "M" in answer and "亚麻衬衫" not in answer


async def test_picture_with_a_question_in_its_caption_en_P5(h: Harness) -> None:
    await h.say("Tell me about the cotton tee", language_code="en")
    await h.say("How much is the oxford shirt?", language_code="en")
    answer = await _sent_back(h, "photos/ct01.png", "is M in stock?", language_code="en")
    assert any("Cotton T-shirt" in t and "M" in t and "in stock" in t for t in answer)
    answer = await h.say("what is it made of?", language_code="en")
    assert any("cotton" in t.lower() for t in answer) and not any("Oxford" in t for t in answer)


async def test_a_picture_not_from_the_catalogue_gets_the_usual_answer(h: Harness) -> None:
    await h.say("亚麻衬衫多少钱")
    h.session.requests.clear()
    await h.feed(message_update(next(h.ids), SHOPPER, None, photo=[
        {"file_id": "x", "file_unique_id": "someone-elses", "width": 9, "height": 9}]))
    assert not any("亚麻衬衫" in t for t in h.sent(SHOPPER))


async def test_picture_is_uploaded_once_then_sent_by_its_file_id_P5(h: Harness) -> None:
    await h.say("真丝围巾")
    [first] = h.session.requests_of("sendPhoto")
    assert isinstance(first.photo, InputFile)  # the demo's own file, uploaded
    assert h.app.photo_files is not None
    await h.app.photo_files.drain()
    async with h.app.sessions() as db:
        [known] = list(await db.scalars(select(PhotoFile).where(PhotoFile.largest.is_(True))))
    await h.say("真丝围巾")
    [again] = h.session.requests_of("sendPhoto")
    assert again.photo == known.file_id and known.source == "photos/sc01.png"


async def test_demo_picture_paths_are_stored_relative_to_the_catalogue(h: Harness) -> None:
    async with h.app.sessions() as db:
        photos = [p for row in await db.scalars(select(Product)) for p in row.photos]
    assert photos and all(p.startswith("photos/") for p in photos), photos


# ------------------------------------------------------------------ selling figures charted
def test_report_charts_show_the_selling_figures_P23() -> None:
    """询单转化率, paid after 催付 and recommendations tapped are a chart of the report, each a
    percentage with its counts, labelled in Chinese (the figures of products/figures.py)."""
    from matplotlib import rc_context

    # Imported here: figures → reports.labels loads the reports package, which imports
    # figures back (a cycle that only bites when figures is the first of them imported).
    from bot.services.products.figures import SalesFigures

    start = datetime(2026, 3, 2, tzinfo=UTC)
    report = Report(start, start + timedelta(days=7), "Asia/Shanghai")
    report.sales = SalesFigures(inquiring_shoppers=4, converted_shoppers=3, reminders_sent=2,
                                reminders_paid=1, recommendations_shown=5,
                                recommendations_clicked=2)
    assert "sales" in CHARTS
    with rc_context(_fonts("zh")):
        axes = build_figure(report, "sales", "zh").axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == [
        "询单转化率", "催付后付款", "推荐点击率"]
    assert [round(p.get_height()) for p in axes.patches] == [75, 50, 40]
    assert [t.get_text() for t in axes.texts] == ["3/4", "1/2", "2/5"]
