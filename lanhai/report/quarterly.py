"""The quarterly review (PLAN.md "The rest of the plan"): category growth, user feedback and
merchant satisfaction for a calendar quarter, from the quarterly marts, in Chinese and English,
HTML and PDF, with charts (`lanhai quarterly-report --quarter 2025Q2`).

Like the weekly review it shows what the marts hold and computes nothing: every number is a
row of marts.mart_quarterly_review (KPI x scope, with the previous quarter, target and RAG) or
of the mart it summarises, read at one pinned Delta version per table (snapshot.json)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from lanhai import __version__
from lanhai.config import Config
from lanhai.report import charts
from lanhai.report.data import ReportError, _read, table_version
from lanhai.report.i18n import t, value_label
from lanhai.report.render import _environment, check_langs, write_languages

QUARTER_RE = re.compile(r"^(\d{4})Q([1-4])$")
TABLES = ("mart_quarterly_review", "mart_quarterly_category_growth", "mart_quarterly_ratings",
          "mart_quarterly_merchant_nps", "mart_quarterly_survival")
# the order of the headline table: the plan's targets first, then the rest at platform level
HEADLINE = ("quarter_gmv", "quarter_gmv_yoy_growth", "average_rating", "poor_review_share",
            "merchant_nps", "quarter_first_year_survival")


def parse_quarter(label: str) -> tuple[date, date]:
    """'2025Q2' -> (2025-04-01, 2025-06-30); a clear error for anything else."""
    m = QUARTER_RE.match(label or "")
    if not m:
        raise ReportError(f"quarter {label!r}: write it as YYYYQn, e.g. 2025Q2")
    year, q = int(m.group(1)), int(m.group(2))
    first = date(year, 3 * q - 2, 1)
    nxt = date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
    return first, date.fromordinal(nxt.toordinal() - 1)


def previous_quarter(label: str) -> str:
    first, _ = parse_quarter(label)
    year, q = first.year, (first.month - 1) // 3 + 1
    return f"{year - 1}Q4" if q == 1 else f"{year}Q{q - 1}"


@dataclass
class QuarterData:
    quarter: str
    first_day: date
    last_day: date
    status: str                          # ok or no_data
    versions: dict[str, int]
    is_complete: bool = False
    review: pd.DataFrame = field(default_factory=pd.DataFrame)    # KPI x scope, this quarter
    growth: pd.DataFrame = field(default_factory=pd.DataFrame)
    ratings: pd.DataFrame = field(default_factory=pd.DataFrame)
    nps: pd.DataFrame = field(default_factory=pd.DataFrame)
    survival: pd.DataFrame = field(default_factory=pd.DataFrame)

    def rows(self, kpis: tuple[str, ...], scope_types: tuple[str, ...]) -> list[dict]:
        if self.review.empty:
            return []
        df = self.review[self.review.kpi.isin(kpis) & self.review.scope_type.isin(scope_types)]
        order = {k: i for i, k in enumerate(kpis)}
        scopes = {s: i for i, s in enumerate(scope_types)}
        return sorted(df.to_dict("records"), key=lambda r: (order[r["kpi"]],
                                                            scopes[r["scope_type"]],
                                                            r["scope_value"]))

    def headline(self) -> list[dict]:
        """Every KPI at platform level, then every KPI x scope the plan sets a target for."""
        rows = self.rows(HEADLINE, ("all",))
        rows += [r for r in self.rows(HEADLINE, ("category", "pilot_category",
                                                 "merchant_size"))
                 if isinstance(r.get("direction"), str)]
        return rows


def latest_complete_quarter(spark, config: Config) -> str | None:
    name = f"{config.db('marts')}.mart_quarterly_review"
    if not spark.catalog.tableExists(name):
        return None
    row = spark.sql(f"select max(quarter_label) as q from {name} "
                    f"where is_complete_quarter").first()
    return row.q if row else None


def load_quarter(spark, config: Config, quarter: str) -> QuarterData:
    """Read everything the quarter's report shows, at one pinned version of each table."""
    first, last = parse_quarter(quarter)
    names = {name: f"{config.db('marts')}.{name}" for name in TABLES}
    versions = {name: table_version(spark, full) for name, full in names.items()}
    recorded = {name: v for name, v in versions.items() if v is not None}
    q = f"'{quarter}'"

    def read(name: str, where: str) -> pd.DataFrame:
        return _read(spark, names[name], versions[name], where)

    review = read("mart_quarterly_review", f"quarter_label = {q}")
    if review.empty:
        return QuarterData(quarter, first, last, "no_data", recorded)
    return QuarterData(
        quarter, first, last, "ok", recorded,
        is_complete=bool(review.is_complete_quarter.all()), review=review,
        growth=read("mart_quarterly_category_growth", f"quarter_label = {q}"),
        ratings=read("mart_quarterly_ratings",
                     f"quarter_label in ({q}, '{previous_quarter(quarter)}')"),
        nps=read("mart_quarterly_merchant_nps", f"quarter_label = {q}"),
        survival=read("mart_quarterly_survival", f"quarter_label = {q}").sort_values(
            "cohort_month") if versions["mart_quarterly_survival"] is not None
        else pd.DataFrame())


def sections(d: QuarterData) -> dict[str, list[dict]]:
    """The rows of each section (selections of the quarterly review mart; nothing computed)."""
    return {
        "headline": d.headline(),
        "growth": d.rows(("quarter_gmv", "quarter_gmv_yoy_growth"),
                         ("all", "pilot_category", "category")),
        "feedback": d.rows(("average_rating", "poor_review_share"),
                           ("all", "pilot_category", "category")),
        "merchants": d.rows(("merchant_nps",), ("all", "merchant_size"))
        + d.rows(("quarter_first_year_survival",), ("all",)),
    }


def _scope_series(rows: list[dict], kpi: str, scope_type: str, lang: str
                  ) -> tuple[list[str], list[float | None], list[float | None]]:
    picked = sorted((r for r in rows if r["kpi"] == kpi and r["scope_type"] == scope_type),
                    key=lambda r: r["scope_value"])
    values = [None if pd.isna(r["value"]) else float(r["value"]) for r in picked]
    previous = [None if pd.isna(r["previous_value"]) else float(r["previous_value"])
                for r in picked]
    return [value_label(r["scope_value"], lang) for r in picked], values, previous


def draw_charts(d: QuarterData, s: dict[str, list[dict]], lang: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {"growth": None, "ratings": None, "nps": None}
    if d.status != "ok":
        return out
    labels, values, _ = _scope_series(s["growth"], "quarter_gmv_yoy_growth", "category", lang)
    if any(v is not None for v in values):
        out["growth"] = charts.bars(labels, {t("yoy_growth", lang): values}, "rate", lang,
                                    title=t("growth_by_category", lang))
    labels, values, previous = _scope_series(s["feedback"], "average_rating", "category", lang)
    if labels:
        out["ratings"] = charts.bars(labels, {t("this_quarter", lang): values,
                                              t("last_quarter", lang): previous},
                                     "ratio", lang, title=t("rating_by_category", lang))
    labels, values, previous = _scope_series(s["merchants"], "merchant_nps", "merchant_size",
                                             lang)
    if labels:
        out["nps"] = charts.bars(labels, {t("this_quarter", lang): values,
                                          t("last_quarter", lang): previous},
                                 "ratio", lang, title=t("nps_by_size", lang))
    return out


def render_html(d: QuarterData, lang: str, built_at: str) -> str:
    s = sections(d) if d.status == "ok" else {}
    return _environment(lang).get_template("quarterly.html.j2").render(
        d=d, sections=s, charts=draw_charts(d, s, lang), built_at=built_at)


@dataclass
class QuarterlyFiles:
    quarter: str
    status: str
    folder: Path
    html: dict[str, Path]
    pdf: dict[str, Path]
    snapshot: Path


def build_quarterly_report(spark, config: Config, quarter: str | None = None,
                           langs: tuple[str, ...] = ("zh", "en"), pdf: bool = True,
                           progress=None) -> QuarterlyFiles:
    """Build the quarter's review (default: the latest complete quarter) in each language
    under reports/quarterly/<quarter>/."""
    say = progress or (lambda _msg: None)
    quarter = quarter or latest_complete_quarter(spark, config)
    if not quarter:
        raise ReportError("the marts hold no complete quarter yet: run the chain first, or "
                          "name a quarter with --quarter")
    parse_quarter(quarter)
    check_langs(langs)
    say(f"reading the quarterly marts for {quarter}")
    d = load_quarter(spark, config, quarter)
    folder = config.path("reports") / "quarterly" / quarter
    folder.mkdir(parents=True, exist_ok=True)
    built_at = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    html_files, pdf_files = write_languages(
        folder, f"quarterly-review-{quarter}", lambda lang: render_html(d, lang, built_at),
        langs, pdf, say)
    snapshot = folder / "snapshot.json"
    snapshot.write_text(json.dumps({
        "quarter": quarter, "status": d.status, "built_at": built_at, "lanhai": __version__,
        "is_complete_quarter": d.is_complete,
        "tables": {f"{config.db('marts')}.{k}": v for k, v in d.versions.items()},
        "files": sorted(p.name for p in [*html_files.values(), *pdf_files.values()]),
    }, indent=2, ensure_ascii=False), encoding="utf-8")
    return QuarterlyFiles(quarter, d.status, folder, html_files, pdf_files, snapshot)
