"""Build a week's review: HTML (Jinja2, self-contained) and PDF (headless Chromium), in Chinese
and English, under reports/<week>/ with the snapshot of the marts it was built from."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from lanhai import __version__
from lanhai.config import Config
from lanhai.report import charts, fmt
from lanhai.report import data as report_data
from lanhai.report.i18n import DOMAINS, RAG, scope_label, t, value_label, verdict

REVIEW_ORDER = ("all", "category", "pilot_category", "segment", "city_tier", "channel",
                "merchant_size", "merchant_tier")


class PdfError(RuntimeError):
    """Chromium could not print the HTML."""


@dataclass
class ReportFiles:
    week: str
    status: str
    folder: Path
    html: dict[str, Path]
    pdf: dict[str, Path]
    snapshot: Path


def _raw(value) -> str:
    """A number exactly as the mart holds it (for tests and for copying out of the HTML)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value))


def _environment(lang: str) -> Environment:
    env = Environment(loader=PackageLoader("lanhai.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(
        fmt=fmt, lang=lang, raw=_raw, version=__version__,
        t=lambda key, **kw: t(key, lang, **kw),
        rag=lambda r: RAG.get(r, {}).get(lang, r),
        domain=lambda d: DOMAINS.get(d, {}).get(lang, d),
        scope_label=lambda st, sv: scope_label(st, sv, lang),
        verdict=lambda v: verdict(v, lang),
        kpi_name=lambda r: r["kpi_name_zh" if lang == "zh" else "kpi_name_en"],
    )
    return env


def _ordered(rows: list[dict]) -> list[dict]:
    order = {s: i for i, s in enumerate(REVIEW_ORDER)}
    kpis = {k: i for i, k in enumerate(report_data.kpi_order())}
    return sorted(rows, key=lambda r: (kpis.get(r["kpi"], 99), order.get(r["scope_type"], 99),
                                       r["scope_value"]))


def sections(d: report_data.WeekData) -> dict[str, list[dict]]:
    """The rows of each section (selections of the review mart; nothing computed)."""
    pilot = [r for r in d.rows(report_data.PILOT_KPIS, ["pilot_category"])]
    return {
        "pilots": _ordered(pilot),
        "segments": _ordered(d.rows(report_data.SEGMENT_KPIS, ["all", "segment"])),
        "channels": _ordered(d.rows(report_data.CHANNEL_KPIS, ["all", "channel"])),
        "merchants": _ordered(d.rows(("smb_repurchase_rate_90d", "first_year_survival"),
                                     ["all"])
                              + d.rows(("merchants_in_tier",), ["merchant_tier"])
                              + d.rows(("gmv", "paid_orders"), ["merchant_size"])),
        "logistics": _ordered(d.rows(report_data.LOGISTICS_KPIS,
                                     ["all", "merchant_size", "city_tier"])),
        "movers": (d.movers.sort_values(["kpi", "mover_rank"]).to_dict("records")
                   if not d.movers.empty else []),
    }


def draw_charts(d: report_data.WeekData, s: dict[str, list[dict]], lang: str) -> dict:
    out: dict[str, str | None] = {k: None for k in ("trends", "pilots", "segments", "channels",
                                                    "survival", "logistics", "quarantine")}
    if d.status == "ok":
        trend_rows = d.trends.to_dict("records") if not d.trends.empty else []
        out["trends"] = charts.trends(trend_rows, report_data.TREND_KPIS, lang)
        split = {r["scope_value"]: r for r in s["pilots"] if r["kpi"] == "pilot_gmv_split"}
        budget = {r["scope_value"]: r for r in s["pilots"] if r["kpi"] == "budget_split"}
        names = [p for p in ("sustainable", "silver_economy", "second_hand") if p in split]
        if names:
            out["pilots"] = charts.bars(
                [value_label(p, lang) for p in names],
                {t("gmv_split", lang): [split[p]["value"] for p in names],
                 t("budget_split", lang): [budget.get(p, {}).get("value") for p in names],
                 t("plan_split", lang): [split[p]["band_low"] for p in names]},
                "rate", lang, title=t("pilots", lang))
        out["segments"] = charts.scope_bars(
            [r for r in s["segments"] if r["scope_type"] == "segment"], "repurchase_rate_90d",
            lang)
        out["channels"] = charts.scope_bars(
            [r for r in s["channels"] if r["scope_type"] == "channel"], "cac", lang)
        if not d.survival.empty:
            cohorts = d.survival.to_dict("records")
            out["survival"] = charts.bars(
                [c["cohort_month"].strftime("%Y-%m") for c in cohorts],
                {t("survival", lang): [c["first_year_survival"] for c in cohorts]}, "rate",
                lang, title=t("survival_by_cohort", lang),
                target=next((r["target"] for r in d.rows(("first_year_survival",), ["all"])
                             if r.get("target") is not None), None))
        out["logistics"] = charts.trends(trend_rows, report_data.LOGISTICS_KPIS, lang)
    if not d.quarantine.empty:
        top = d.quarantine.sort_values("rows_quarantined", ascending=False).head(10)
        out["quarantine"] = charts.bars(
            [f"{r.entity} · {r.rule}" for r in top.itertuples()],
            {t("rows_quarantined", lang): [float(v) for v in top.rows_quarantined]}, "count",
            lang, title=t("quarantine_by_rule", lang))
    return out


def render_html(d: report_data.WeekData, lang: str, built_at: str) -> str:
    s = sections(d) if d.status == "ok" else {}
    return _environment(lang).get_template("report.html.j2").render(
        d=d, sections=s, charts=draw_charts(d, s, lang), built_at=built_at)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise PdfError("no Chromium found: install it with `make system` (Debian package chromium)")


def html_to_pdf(html: Path, pdf: Path, timeout: int = 180) -> Path:
    """Print the HTML with headless Chromium (the engine the browser tests use as well)."""
    with tempfile.TemporaryDirectory(prefix="lanhai-chromium-") as profile:
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}",
               "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
               f"--print-to-pdf={pdf}", html.resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "HOME": profile}, check=False)
    if proc.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        raise PdfError(f"Chromium could not print {html} to PDF (exit {proc.returncode}): "
                       f"{proc.stderr.strip()[-800:]}")
    return pdf


def check_langs(langs: tuple[str, ...]) -> None:
    for lang in langs:
        if lang not in fmt.LANGS:
            raise report_data.ReportError(f"language {lang!r}: choose from {fmt.LANGS}")


def write_languages(folder: Path, stem: str, render, langs: tuple[str, ...], pdf: bool,
                    say) -> tuple[dict[str, Path], dict[str, Path]]:
    """Write `<stem>.<lang>.html` with render(lang) for each language, and print each to PDF
    when asked; return the HTML and the PDF files by language."""
    html_files, pdf_files = {}, {}
    for lang in langs:
        say(f"rendering {stem} ({lang})")
        path = folder / f"{stem}.{lang}.html"
        path.write_text(render(lang), encoding="utf-8")
        html_files[lang] = path
        if pdf:
            say(f"printing {path.name} to PDF")
            pdf_files[lang] = html_to_pdf(path, path.with_suffix(".pdf"))
    return html_files, pdf_files


def build_report(spark, config: Config, week: str | None = None,
                 langs: tuple[str, ...] = ("zh", "en"), pdf: bool = True,
                 progress=None) -> ReportFiles:
    """Build the week's review (default: the latest complete week) in each language."""
    from lanhai.summary import latest_complete_week

    say = progress or (lambda _msg: None)
    week = week or latest_complete_week(spark, config)
    if not week:
        raise report_data.ReportError("the marts hold no complete week yet: run the chain "
                                      "first, or name a week with --week")
    report_data.parse_week(week)
    check_langs(langs)
    say(f"reading the marts for {week}")
    d = report_data.load_week(spark, config, week)
    folder = config.path("reports") / week
    folder.mkdir(parents=True, exist_ok=True)
    built_at = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    html_files, pdf_files = write_languages(
        folder, f"review-{week}", lambda lang: render_html(d, lang, built_at), langs, pdf, say)
    published = report_data.publish(spark, config, d)
    snapshot = folder / "snapshot.json"
    snapshot.write_text(json.dumps({
        "week": week, "status": d.status, "built_at": built_at, "lanhai": __version__,
        "is_complete_week": d.is_complete, "gate": d.gate.status, "gate_runs": d.gate.runs,
        "published_values": published, "restated_values": len(d.restated),
        "tables": {config.db("marts") + "." + k if k != "quality_results"
                   else config.table("audit", "quality_results"): v
                   for k, v in d.versions.items()},
        "files": sorted(p.name for p in [*html_files.values(), *pdf_files.values()]),
    }, indent=2, ensure_ascii=False), encoding="utf-8")
    return ReportFiles(week, d.status, folder, html_files, pdf_files, snapshot)
