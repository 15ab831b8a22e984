"""The report's charts: matplotlib, drawn to inline SVG (text as paths, so the HTML and the PDF
carry their own glyphs), readable in print (A4 width, 9 pt type, no colour-only encodings).

Chinese labels need a CJK font: set-up installs fonts-noto-cjk, and `use_cjk_font` registers it
with matplotlib. A label drawn with a font that lacks a glyph is an error here, not an empty box
in front of the meeting (MissingGlyphError)."""

from __future__ import annotations

import io
import warnings
from functools import cache

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from lanhai.report import fmt  # noqa: E402
from lanhai.report.i18n import t, value_label  # noqa: E402

CJK_FAMILY = "Noto Sans CJK SC"
COLOURS = ["#1f4e79", "#c55a11", "#548235", "#7f6000", "#7030a0", "#2e75b6"]


class MissingGlyphError(RuntimeError):
    """A chart label has characters the chosen font cannot draw."""


@cache
def use_cjk_font() -> str:
    """Register the Noto CJK fonts set-up installed and make them matplotlib's default."""
    paths = [p for p in font_manager.findSystemFonts() if "NotoSansCJK" in p]
    for path in paths:
        font_manager.fontManager.addfont(path)
    if not any(f.name == CJK_FAMILY for f in font_manager.fontManager.ttflist):
        raise MissingGlyphError(
            f"font {CJK_FAMILY!r} not found: install fonts-noto-cjk (make system)")
    return CJK_FAMILY


def style(family: str | None = None) -> dict:
    return {
        "font.family": [family or use_cjk_font()],
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "svg.fonttype": "path",
        "svg.hashsalt": "lanhai",        # stable ids: the same data draws the same SVG
        "figure.dpi": 100,
    }


def to_svg(draw, *, family: str | None = None, size=(7.0, 3.0)) -> str:
    """Run draw(fig) under the report's style and return the figure as SVG text; raise
    MissingGlyphError if matplotlib warns that a glyph is missing."""
    with plt.rc_context(style(family)), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plt.figure(figsize=size)
        try:
            draw(fig)
            buf = io.StringIO()
            fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
        finally:
            plt.close(fig)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    if missing:
        raise MissingGlyphError("; ".join(sorted(set(missing))[:5]))
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def _axis_formatter(unit: str, lang: str) -> FuncFormatter:
    def label(v, _pos):
        if unit == "rate":  # ticks half a point apart need the decimal to differ
            return f"{v * 100:.1f}%" if abs(v * 1000 - round(v * 100) * 10) > 1e-6 \
                else f"{v * 100:.0f}%"
        if unit == "pct":
            return f"{v:.0f}%"
        if unit == "cny":
            return fmt.money(v, lang).replace(".00", "")
        if unit == "count":
            return fmt.count(v, lang)
        return f"{v:.1f}"
    return FuncFormatter(label)


def _value_axis(axis, unit: str, lang: str) -> None:
    """Label a value axis in the unit's style; counts get whole-number ticks only (a count
    axis running 0 to 3 is not labelled 0 0 1 1 2 2 3)."""
    if unit == "count":
        axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(_axis_formatter(unit, lang))


def trends(trend_rows: list[dict], kpis: tuple[str, ...], lang: str, **kw) -> str:
    """Small multiples: each KPI's last 12 weeks at platform level, with its target."""
    by_kpi: dict[str, list[dict]] = {}
    for r in trend_rows:
        if r["scope_type"] == "all" and r["kpi"] in kpis:
            by_kpi.setdefault(r["kpi"], []).append(r)
    shown = [k for k in kpis if k in by_kpi]

    def draw(fig):
        cols = 3
        rows = max(1, -(-len(shown) // cols))
        for i, kpi in enumerate(shown):
            ax = fig.add_subplot(rows, cols, i + 1)
            points = sorted(by_kpi[kpi], key=lambda r: r["iso_week_label"])
            weeks = [r["iso_week_label"][-3:] for r in points]
            values = [r["value"] for r in points]
            ax.plot(weeks, values, marker="o", markersize=2.5, color=COLOURS[0], linewidth=1.4)
            target = points[-1].get("target")
            if points[-1].get("direction") in ("higher", "lower") and target is not None:
                ax.axhline(target, color=COLOURS[1], linestyle="--", linewidth=1,
                           label=t("target_line", lang))
                ax.legend(loc="best", fontsize=7, frameon=False)
            name = points[-1]["kpi_name_zh" if lang == "zh" else "kpi_name_en"]
            ax.set_title(name, loc="left")
            _value_axis(ax.yaxis, points[-1]["unit"], lang)
            ax.tick_params(axis="x", labelsize=6, rotation=90)
            ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()

    return to_svg(draw, size=(7.2, 2.3 * max(1, -(-len(shown) // 3))), **kw)


def bars(labels: list[str], series: dict[str, list[float | None]], unit: str, lang: str,
         *, title: str, target: float | None = None, **kw) -> str:
    """Grouped horizontal bars (one group per label), optionally with a target line."""
    def draw(fig):
        ax = fig.add_subplot(1, 1, 1)
        n = len(series)
        height = 0.8 / max(n, 1)
        for i, (name, values) in enumerate(series.items()):
            ys = [j + (i - (n - 1) / 2) * height for j in range(len(labels))]
            xs = [0 if v is None else v for v in values]
            ax.barh(ys, xs, height=height * 0.95, color=COLOURS[i % len(COLOURS)], label=name,
                    hatch=None if i == 0 else "//", edgecolor="white")
        if target is not None:
            ax.axvline(target, color="#444444", linestyle="--", linewidth=1,
                       label=t("target_line", lang))
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()
        _value_axis(ax.xaxis, unit, lang)
        ax.set_title(title, loc="left")
        if n > 1 or target is not None:
            ax.legend(loc="lower right", fontsize=7, frameon=False)
        fig.tight_layout()

    return to_svg(draw, size=(7.0, 0.35 * len(labels) * max(1, len(series) * 0.7) + 1.0), **kw)


def scope_bars(rows: list[dict], kpi: str, lang: str, **kw) -> str | None:
    """One KPI across the scopes of one dimension (rows already filtered to that dimension)."""
    picked = [r for r in rows if r["kpi"] == kpi and r["value"] is not None]
    if not picked:
        return None
    picked.sort(key=lambda r: r["scope_value"])
    first = picked[0]
    target = next((r["target"] for r in picked if r.get("direction") in ("higher", "lower")),
                  None)
    return bars([value_label(r["scope_value"], lang) for r in picked],
                {first["kpi_name_zh" if lang == "zh" else "kpi_name_en"]:
                 [r["value"] for r in picked]},
                first["unit"], lang, title=first["kpi_name_zh" if lang == "zh"
                                                  else "kpi_name_en"], target=target, **kw)
