"""Charts in the shop's language (P23): Chinese labels drawn with the CJK font the project's
install brings (checked from the font matplotlib actually resolves, and no missing glyph),
agents by name, legends outside the bars; ``python -m bot report`` on a brand-new database."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from matplotlib import font_manager, rc_context
from matplotlib.figure import Figure

from bot.cli.report import parse_args, run_report
from bot.services.reports import Report, build_report, charts
from bot.services.reports.charts import _fonts, build_figure, packaged_cjk_font, render_chart
from bot.services.reports.labels import Words
from bot.settings import load_settings
from phrases.catalogue import Phrase, PhraseCatalogue
from phrases.staff import StaffWords
from storage.repositories import Repo
from tests.report_history import WEEK_END, WEEK_START, build_history


def test_the_install_brings_a_cjk_font_P23() -> None:
    path = packaged_cjk_font()
    assert path is not None and path.name == "NotoSansCJKsc-Regular.otf"


async def test_chinese_chart_is_drawn_with_the_cjk_font_and_agents_by_name_P23(
    repo: Repo,
) -> None:
    await build_history(repo)
    report = await build_report(repo, WEEK_START, WEEK_END, "Asia/Shanghai",
                                agent_ids=(901, 902, 903),
                                agent_names={901: "小美", 902: "Ken", 903: "阿强"})
    with rc_context(_fonts("zh")):
        figure = build_figure(report, "agents", "zh")
        axes = figure.axes[0]
        used = font_manager.findfont(axes.title.get_fontproperties(), fallback_to_default=False)
        assert Path(used) == packaged_cjk_font()  # the title 客服… is drawn with Noto Sans CJK
        ticks = [t.get_text() for t in axes.get_xticklabels()]
        assert ticks == ["小美", "Ken", "阿强"] and not any(t.startswith("#") for t in ticks)
        legend = figure.axes[1].get_legend()
        assert legend.get_bbox_to_anchor().y0 < axes.get_window_extent().y0  # below the bars
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render_chart(report, "agents", "zh")
    assert png.startswith(b"\x89PNG")
    assert not [w for w in caught if "missing from" in str(w.message)]  # every glyph found


async def test_report_command_on_a_brand_new_database_migrates_first(tmp_path: Path) -> None:
    settings = load_settings({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'new.db'}",
                              "OWNER_IDS": "900", "AGENT_IDS": "901"})
    out = await run_report(settings, parse_args(["--from", "2026-03-02", "--to", "2026-03-08",
                                                 "--lang", "en"]))
    assert "conversations 0" in out  # no "no such table: events"


async def test_without_a_cjk_font_the_charts_fall_back_to_english_words_P23(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No CJK font: Chinese labels would be boxes, so the charts use the English texts — the
    owner's edited English ones when the reader's words are at hand (staff.report.<key>)."""
    report = await build_report(repo, WEEK_START, WEEK_END, "Asia/Shanghai")
    edited = PhraseCatalogue.builtin().with_overrides(
        [Phrase("staff.report.chart_wait", "staff", "en", "Waiting times")])
    titles: list[str] = []
    drawn = charts.build_figure

    def spy(report: Report, name: str, words: Words = "zh") -> Figure:
        figure = drawn(report, name, words)
        titles.append(figure.axes[0].get_title())
        return figure

    monkeypatch.setattr(charts, "build_figure", spy)
    monkeypatch.setattr(charts, "_cjk_font", lambda: None)
    charts.render_chart(report, "wait", "zh")
    charts.render_chart(report, "wait", StaffWords(edited, "zh"))
    assert titles == ["Shopper wait", "Waiting times"]
    monkeypatch.setattr(charts, "_cjk_font", lambda: "Noto Sans CJK SC")
    charts.render_chart(report, "wait", StaffWords(edited, "zh"))
    assert titles[-1] == "顾客等待时间分布"
