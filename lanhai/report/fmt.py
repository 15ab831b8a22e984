"""Numbers as each report's readers write them: 万/亿 in Chinese, thousands and millions in
English. Pure functions of (value, unit, lang); the report never rounds anything else."""

from __future__ import annotations

import math

LANGS = ("zh", "en")


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _zh_magnitude(value: float, decimals: int = 2) -> str | None:
    """1.23亿, 45.67万, or the number itself below 10,000 (with thousands separators)."""
    size = abs(value)
    if size >= 1e8:
        return f"{value / 1e8:,.{decimals}f}亿"
    if size >= 1e4:
        return f"{value / 1e4:,.{decimals}f}万"
    return None


def _en_magnitude(value: float, decimals: int = 2) -> str | None:
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:,.{decimals}f}bn"
    if size >= 1e6:
        return f"{value / 1e6:,.{decimals}f}m"
    return None


def money(value: float | None, lang: str) -> str:
    """CNY: '123.46万元' / 'CNY 1.23m'; small amounts to the fen / cent."""
    if _missing(value):
        return "–"
    value = float(value)
    if lang == "zh":
        big = _zh_magnitude(value)
        return f"{big}元" if big else f"{value:,.2f}元"
    big = _en_magnitude(value)
    return f"CNY {big}" if big else f"CNY {value:,.2f}"


def count(value: float | None, lang: str) -> str:
    if _missing(value):
        return "–"
    value = float(value)
    if lang == "zh":
        return _zh_magnitude(value) or f"{value:,.0f}"
    return f"{value:,.0f}"


def value(value: float | None, unit: str, lang: str) -> str:
    """A KPI's value in its unit: rate 0.349 -> 34.9%, pct 50 -> 50.0%, money, count, ratio."""
    if _missing(value):
        return "–"
    if unit == "rate":
        return f"{float(value) * 100:.1f}%"
    if unit == "pct":
        return f"{float(value):.1f}%"
    if unit == "cny":
        return money(value, lang)
    if unit == "count":
        return count(value, lang)
    return f"{float(value):.2f}"


def points(fraction: float | None, lang: str) -> str:
    """A difference of two rates (fractions) in percentage points: 0.012 -> '+1.2 pp'."""
    if _missing(fraction):
        return "–"
    return change(float(fraction) * 100, "pp", lang)


def minutes(value: float | None, lang: str) -> str:
    """A duration in minutes: 12.34 -> '12.3 min' / '12.3分钟'; hours beyond 2 hours."""
    if _missing(value):
        return "–"
    v = float(value)
    if v >= 120:
        return f"{v / 60:.1f}" + ("小时" if lang == "zh" else " h")
    return f"{v:.1f}" + ("分钟" if lang == "zh" else " min")


def p_value(p: float | None) -> str:
    """A p-value to three significant digits ('<0.001' below that)."""
    if _missing(p):
        return "–"
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3g}"


def change(delta: float | None, unit: str, lang: str) -> str:
    """A week-on-week change: '+1.2个百分点' / '+1.2 pp' for rates, signed values otherwise."""
    if _missing(delta):
        return "–"
    delta = float(delta)
    sign = "+" if delta > 0 else ("±" if delta == 0 else "−")
    if unit in ("rate", "pct", "pp"):
        return f"{sign}{abs(delta):.1f}" + ("个百分点" if lang == "zh" else " pp")
    return sign + value(abs(delta), unit, lang)


def share(fraction: float | None) -> str:
    if _missing(fraction):
        return "–"
    return f"{float(fraction) * 100:.0f}%"


def target(row: dict, lang: str) -> str:
    """The plan's target as the review writes it: '≥ 35.0%', '= 40.0%', '0.0%–30.0%'."""
    direction, unit = row.get("direction"), row.get("unit")
    if not direction:
        return ""
    if direction == "band":
        low, high = row.get("band_low"), row.get("band_high")
        if low == high:
            return "= " + value(low, unit, lang)
        return f"{value(low, unit, lang)}–{value(high, unit, lang)}"
    return ("≥ " if direction == "higher" else "≤ ") + value(row.get("target"), unit, lang)
