"""Charts as PNG bytes (matplotlib, Agg, no pyplot state): one figure per question of P23.

Every chart has the same pixel size (CHART_SIZE) so Telegram shows them as one album. Chinese
labels use Noto Sans CJK SC from the ``mpl-font`` package the project's install brings (chosen
explicitly, by file); without any CJK font the charts fall back to English labels. Agents
appear by name. matplotlib is
imported on the first chart, not with the bot: it cost every process start about a second.
"""

from __future__ import annotations

import importlib.util
import io
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from bot.services.reports.labels import Words, in_language, label, lang_of
from bot.services.reports.model import Report

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CHART_SIZE = (800, 450)  # pixels
DPI = 100
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei", "SimHei",
             "Microsoft YaHei", "PingFang SC", "Source Han Sans SC")
CHARTS = ("wait", "hour", "satisfaction", "agents", "sales")


PACKAGED_FONT = ("fonts", "noto", "NotoSansCJKsc-Regular.otf")  # in the mpl-font package


def packaged_cjk_font() -> Path | None:
    """The Noto Sans CJK SC file the project's install brings (PyPI package ``mpl-font``).

    Found without importing the package: its ``__init__`` imports pyplot and changes
    matplotlib's global settings, which the bot must not do."""
    spec = importlib.util.find_spec("mpl_font")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder).joinpath(*PACKAGED_FONT)
        if path.is_file():
            return path
    return None


@cache
def _cjk_font() -> str | None:
    """The CJK font the charts use, chosen explicitly: the packaged one, else a system one."""
    from matplotlib import font_manager

    packaged = packaged_cjk_font()
    if packaged is not None:
        font_manager.fontManager.addfont(str(packaged))
        return font_manager.FontProperties(fname=str(packaged)).get_name()
    names = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in names), None)


def chart_language(lang: str) -> str:
    return "en" if lang == "zh" and _cjk_font() is None else lang


def chart_words(words: Words) -> Words:
    """The words the charts can draw: English ones (the owner's edited English texts when
    ``words`` are the reader's) when no CJK font exists."""
    lang = lang_of(words)
    shown = chart_language(lang)
    return words if shown == lang else in_language(words, shown)


def render_charts(report: Report, words: Words = "zh") -> dict[str, bytes]:
    """Every chart (CHARTS): name → PNG bytes; ``words``: the reader's staff words or a
    language (the packaged labels)."""
    return {name: render_chart(report, name, words) for name in CHARTS}


def _fonts(lang: str) -> dict[str, object]:
    """rc settings naming the CJK font first for Chinese labels (agents' names may be either)."""
    font = _cjk_font()
    if font is None:
        return {}
    return {"font.family": ["sans-serif"], "font.sans-serif": [font, "DejaVu Sans"]}


def build_figure(report: Report, name: str, words: Words = "zh") -> Figure:
    """One chart as a matplotlib Figure (Agg canvas attached), labels in ``words``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # Agg: no display, no pyplot
    from matplotlib.figure import Figure

    figure = Figure(figsize=(CHART_SIZE[0] / DPI, CHART_SIZE[1] / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    draw = {"wait": _wait, "hour": _hour, "satisfaction": _satisfaction,
            "agents": _agents, "sales": _sales}[name]
    draw(report, axes, words)
    figure.tight_layout()
    return figure


def render_chart(report: Report, name: str, words: Words = "zh") -> bytes:
    from matplotlib import rc_context

    words = chart_words(words)
    with rc_context(_fonts(lang_of(words))):
        figure = build_figure(report, name, words)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _empty(axes: Axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes,
              fontsize=14, color="grey")


def _wait(report: Report, axes: Axes, words: Words) -> None:
    names = [name for name, _ in report.waiting.wait_buckets]
    counts = [n for _, n in report.waiting.wait_buckets]
    axes.set_title(label("chart_wait", words))
    colours = ["#4caf50", "#8bc34a", "#cddc39", "#ff9800", "#f44336", "#b71c1c"]
    axes.bar(names, counts, color=colours[: len(names)])
    axes.set_ylabel(label("count", words))
    if not any(counts):
        _empty(axes, label("no_data", words))


def _hour(report: Report, axes: Axes, words: Words) -> None:
    axes.set_title(label("chart_hour", words))
    axes.bar(range(24), report.by_hour, color="#2196f3")
    axes.set_xticks(range(0, 24, 2))
    axes.set_xlabel(label("hour", words))
    axes.set_ylabel(label("count", words))
    if not any(report.by_hour):
        _empty(axes, label("no_data", words))


def _satisfaction(report: Report, axes: Axes, words: Words) -> None:
    axes.set_title(label("chart_satisfaction", words))
    points = report.satisfaction_by_day
    if report.quality.survey_answers is None:
        _empty(axes, label("not_recorded", words))
        return
    if not points:
        _empty(axes, label("no_data", words))
        return
    days = [day.strftime("%m-%d") for day, _ in points]
    axes.plot(days, [score for _, score in points], marker="o", color="#9c27b0")
    axes.set_ylim(1, 5)
    axes.set_ylabel(label("satisfaction", words))


def _agents(report: Report, axes: Axes, words: Words) -> None:
    axes.set_title(label("chart_agents", words))
    agents = report.agents
    if not agents:
        _empty(axes, label("no_data", words))
        return
    names = [agent.label for agent in agents]
    positions = range(len(agents))
    width = 0.4
    conversations = [agent.conversations for agent in agents]
    first = [agent.first_reply.p50 or 0 for agent in agents]
    axes.bar([p - width / 2 for p in positions], conversations, width,
             label=label("conversations", words), color="#3f51b5")
    axes.set_ylabel(label("conversations", words))
    axes.set_xticks(list(positions), names)
    twin = axes.twinx()
    twin.bar([p + width / 2 for p in positions], first, width,
             label=f"{label('first_reply', words)} p50 ({label('seconds', words)})",
             color="#ff9800")
    twin.set_ylabel(f"{label('first_reply', words)} p50 ({label('seconds', words)})")
    handles = axes.get_legend_handles_labels()
    twin_handles = twin.get_legend_handles_labels()
    # Below the axes, so the legend never covers a bar.
    twin.legend(handles[0] + twin_handles[0], handles[1] + twin_handles[1],
                loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)


def _sales(report: Report, axes: Axes, words: Words) -> None:
    """Selling (P5, P6, 催缴): 询单转化率, paid after a 催付 reminder, recommendations tapped —
    each a percentage, its counts written on the bar (the figures of products/figures.py)."""
    axes.set_title(label("chart_sales", words))
    sales = report.sales
    if sales is None:
        _empty(axes, label("not_recorded", words))
        return
    bars = [
        (label("conversion_rate", words), sales.converted_shoppers, sales.inquiring_shoppers),
        (label("paid_after_reminder", words), sales.reminders_paid, sales.reminders_sent),
        (label("recommendation_taps", words), sales.recommendations_clicked,
         sales.recommendations_shown),
    ]
    if not any(total for _, _, total in bars):
        _empty(axes, label("no_data", words))
        return
    rates = [100 * part / total if total else 0 for _, part, total in bars]
    drawn = axes.bar([name for name, _, _ in bars], rates, color=["#009688", "#ff9800",
                                                                  "#3f51b5"])
    for bar, (_, part, total) in zip(drawn, bars, strict=True):
        axes.annotate(f"{part}/{total}" if total else "—",
                      (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      ha="center", va="bottom", xytext=(0, 3), textcoords="offset points")
    axes.set_ylim(0, 110)
    axes.set_ylabel("%")


def render_table(title: str, columns: list[str], rows: list[list[str]],
                 lang: str = "zh") -> bytes:
    """A table as a PNG (P11: the month's rota for the owner), with the same CJK font as the
    charts so Chinese names and weekdays show; the height follows the number of rows."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lang = chart_language(lang)
    height = 1.0 + 0.3 * (len(rows) + 1)
    with rc_context(_fonts(lang)):
        figure = Figure(figsize=(CHART_SIZE[0] / DPI, height), dpi=DPI)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        axes.axis("off")
        axes.set_title(title)
        table = axes.table(cellText=rows or [["—"] * len(columns)], colLabels=columns,
                           loc="upper center", cellLoc="left", colLoc="left")
        table.auto_set_font_size(False)
        table.set_fontsize(10)
        table.auto_set_column_width(list(range(len(columns))))
        for (row, _), cell in table.get_celld().items():
            if row == 0:
                cell.set_facecolor("#e0e0e0")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
