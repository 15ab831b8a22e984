"""The weekly review: every KPI the report shows equals the weekly-review mart; the PDF carries
the Chinese headings in its text layer; the HTML renders (headless Chromium); Chinese chart
labels have their glyphs; a week without data or whose data failed the gate says so."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser

import pandas as pd
import pytest

from lanhai.report import fmt
from lanhai.report.data import gate_verdict, parse_week, previous_weeks
from lanhai.report.i18n import TEXT

SECTIONS = ("headline", "trends", "pilots", "segments", "channels", "merchants", "logistics",
            "quality", "movers")


class Cells(HTMLParser):
    """Collect the cells that carry a mart value (data-value) and the text shown in them."""

    def __init__(self):
        super().__init__()
        self.cells: list[dict] = []
        self._open: dict | None = None
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if "data-value" in a:
            self._open = {**a, "text": ""}

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if self._open is not None and tag == "td":
            self.cells.append(self._open)
            self._open = None


def parse(path) -> Cells:
    p = Cells()
    p.feed(path.read_text(encoding="utf-8"))
    return p


# ---- pure functions ------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "unit", "lang", "shown"), [
    (123_456_789.0, "cny", "zh", "1.23亿元"),
    (496_612.34, "cny", "zh", "49.66万元"),
    (418.34, "cny", "zh", "418.34元"),
    (496_612.34, "cny", "en", "CNY 496,612.34"),
    (2_496_612.34, "cny", "en", "CNY 2.50m"),
    (1_234_567.0, "count", "zh", "123.46万"),
    (1_234_567.0, "count", "en", "1,234,567"),
    (0.3491, "rate", "zh", "34.9%"),
    (74.42, "pct", "en", "74.4%"),
    (26.234, "ratio", "en", "26.23"),
    (None, "rate", "zh", "–"),
])
def test_numbers_are_written_the_chinese_or_the_english_way(value, unit, lang, shown):
    assert fmt.value(value, unit, lang) == shown


def test_changes_in_points_and_signs():
    assert fmt.change(1.234, "pp", "zh") == "+1.2个百分点"
    assert fmt.change(-0.06, "pp", "en") == "−0.1 pp"
    assert fmt.change(-73302.63, "cny", "zh") == "−7.33万元"


def test_weeks():
    assert parse_week("2025-W23")[0].isoformat() == "2025-06-02"
    assert previous_weeks("2025-W02", 3) == ["2024-W52", "2025-W01", "2025-W02"]
    with pytest.raises(ValueError, match="not an ISO week"):
        parse_week("2025-23")


def test_the_latest_gate_run_covering_a_day_decides():
    start, end = parse_week("2025-W23")
    def run(run_id, hour, ok, severity="critical"):
        return {"run_id": run_id, "checked_at": pd.Timestamp(f"2025-06-09 {hour:02d}:00"),
                "interval_start": start, "interval_end": end, "table_name": "orders",
                "rule": "daily order volume", "severity": severity, "success": ok,
                "unexpected_count": 1}
    failed_then_fixed = pd.DataFrame([run("a", 1, False), run("b", 2, True)])
    assert gate_verdict(failed_then_fixed, start, end).status == "passed"
    fixed_then_failed = pd.DataFrame([run("a", 1, True), run("b", 2, False)])
    verdict = gate_verdict(fixed_then_failed, start, end)
    assert verdict.status == "failed" and verdict.failures[0]["table"] == "orders"
    warned = pd.DataFrame([run("a", 1, False, severity="warning")])
    assert gate_verdict(warned, start, end).status == "passed"
    assert gate_verdict(warned.iloc[0:0], start, end).status == "not_run"


def test_chinese_chart_labels_have_their_glyphs_and_a_missing_glyph_fails():
    from lanhai.report import charts

    def draw(fig):
        fig.add_subplot(1, 1, 1).set_title("试点品类GMV占比（万元）")

    assert "<svg" in charts.to_svg(draw)  # Noto Sans CJK SC, installed by set-up
    with pytest.raises(charts.MissingGlyphError, match="missing from font"):
        charts.to_svg(draw, family="DejaVu Sans")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_count_axis_has_whole_numbers_each_once(lang):
    import matplotlib.pyplot as plt

    from lanhai.report import charts

    fig, ax = plt.subplots()
    try:
        ax.barh([0, 1, 2], [0, 1, 3])  # three rows quarantined at most: ticks 0.5 apart
        charts._value_axis(ax.xaxis, "count", lang)
        fig.canvas.draw()
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    finally:
        plt.close(fig)
    assert labels and len(labels) == len(set(labels)), labels
    assert all(float(v) == int(v) for v in ax.get_xticks()), ax.get_xticks()


# ---- the report of a week of `small` -------------------------------------------------------

@pytest.fixture(scope="module")
def week(built, spark, config):
    from lanhai.summary import latest_complete_week

    return latest_complete_week(spark, config)


@pytest.fixture(scope="module")
def report(built, spark, config, week, tmp_path_factory):
    from lanhai.report import build_report

    out = replace(config, paths={**config.paths, "reports": tmp_path_factory.mktemp("reports")})
    return build_report(spark, out, week=week)


@pytest.mark.integration
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_kpi_in_the_report_equals_the_weekly_review_mart(report, spark, config, week,
                                                                lang):
    mart = {(r.kpi, r.scope_type, r.scope_value): r for r in spark.sql(
        f"select * from {config.db('marts')}.mart_weekly_review "
        f"where iso_week_label = '{week}'").collect()}
    cells = [c for c in parse(report.html[lang]).cells if "data-kpi" in c]
    assert len(cells) > 100
    for c in cells:
        row = mart[(c["data-kpi"], c["data-scope-type"], c["data-scope-value"])]
        assert c["data-value"] == ("" if row.value is None else repr(float(row.value))), c
        assert c["text"].strip() == fmt.value(row.value, row.unit, lang), c
    shown = {(c["data-kpi"], c["data-scope-type"], c["data-scope-value"]) for c in cells}
    targeted = {k for k, r in mart.items() if r.direction is not None}
    assert targeted and targeted <= shown, "a KPI the plan sets a target for is missing"
    movers = {c["data-mover"]: float(c["data-value"])
              for c in parse(report.html[lang]).cells if "data-mover" in c}
    assert movers
    for key, contribution in movers.items():
        kpi, scope_type, scope_value = key.split("|")
        [m] = spark.sql(f"select contribution from {config.db('marts')}.mart_weekly_movers "
                        f"where iso_week_label = '{week}' and kpi = '{kpi}' and scope_type = "
                        f"'{scope_type}' and scope_value = '{scope_value}'").collect()
        assert m.contribution == contribution


@pytest.mark.integration
def test_the_report_records_the_mart_versions_it_read(report, spark, config, week):
    snapshot = json.loads(report.snapshot.read_text(encoding="utf-8"))
    assert snapshot["week"] == week and snapshot["status"] == "ok"
    for table, version in snapshot["tables"].items():
        current = spark.sql(f"describe history {table} limit 1").first().version
        assert version == current, table
    assert sorted(snapshot["files"]) == sorted(p.name for p in [*report.html.values(),
                                                                *report.pdf.values()])


@pytest.mark.integration
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_pdf_has_every_section_in_its_text_layer(report, lang):
    pdf = report.pdf[lang]
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    for key in (*SECTIONS, "title"):
        assert TEXT[key][lang] in text, f"{key!r} ({TEXT[key][lang]}) not in {pdf.name}"
    if lang == "zh":
        assert "万元" in text and "个百分点" in text


@pytest.mark.integration
def test_the_html_renders_in_headless_chromium(report, tmp_path):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    shot = tmp_path / "report.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        page.goto(report.html["zh"].resolve().as_uri())
        page.wait_for_load_state("load")
        assert page.locator("svg").count() >= 5, "the charts are missing"
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
    image = Image.open(shot).convert("L")
    histogram = image.histogram()
    non_white = sum(histogram[:235]) / sum(histogram)
    assert non_white > 0.03, f"the page is (nearly) blank: {non_white:.1%} ink"
    assert len([n for n in histogram if n]) > 20, "a flat picture, not a report"


@pytest.mark.integration
def test_the_review_lists_every_published_value_that_late_files_restated(report, built, spark,
                                                                         config):
    """Reviews of the late files' weeks were published before the files landed (conftest
    `built`). The review built after them lists exactly the published values the marts no
    longer hold, each with what was published and what it is now: computed here by reading the
    review mart at the versions those reviews and this one recorded."""
    review = f"{config.db('marts')}.mart_weekly_review"
    now_version = json.loads(report.snapshot.read_text(encoding="utf-8"))["tables"][review]

    def values(week: str, version: int) -> dict:
        return {(r.kpi, r.scope_type, r.scope_value, week):
                None if r.value is None else float(r.value)
                for r in spark.sql(f"select kpi, scope_type, scope_value, value from {review} "
                                   f"version as of {version} where iso_week_label = '{week}'")
                .collect()}

    published = dict(built["published_before_late_files"])
    for snap in config.path("reports").glob("*/snapshot.json"):  # the chain's review DAG
        chain = json.loads(snap.read_text(encoding="utf-8"))
        if chain["status"] == "ok":
            published[chain["week"]] = chain["tables"][review]
    expected = {}
    for week, version in published.items():
        now = values(week, now_version)
        for key, was in values(week, version).items():
            if (was is None) != (now.get(key) is None) or (
                    was is not None and abs(was - now[key]) > 1e-9 * max(1.0, abs(now[key]))):
                expected[key] = (was, now.get(key))
    assert expected, "the late files changed no published value: nothing is tested"
    assert {k[0] for k in expected} & {"on_time_delivery_rate", "logistics_cost_share"}

    def number(text: str):
        return float(text) if text else None

    for lang in ("zh", "en"):
        shown = {tuple(c["data-restated"].split("|")):
                 (number(c["data-published"]), number(c["data-value"]))
                 for c in parse(report.html[lang]).cells if "data-restated" in c}
        assert shown == expected


@pytest.mark.integration
def test_a_week_without_data_says_so(built, spark, config, tmp_path):
    from lanhai.report import build_report

    out = replace(config, paths={**config.paths, "reports": tmp_path})
    files = build_report(spark, out, week="2019-W10", pdf=False)
    assert files.status == "no_data"
    for lang in ("zh", "en"):
        page = parse(files.html[lang])
        assert "no-data" in page.ids
        assert not [c for c in page.cells if "data-kpi" in c], "numbers shown for no data"
    assert "没有数据" in files.html["zh"].read_text(encoding="utf-8")


@pytest.mark.integration
def test_a_week_whose_data_failed_the_gate_withholds_its_kpis(built, spark, config, week,
                                                              tmp_path):
    """A real gate run on a scratch clone of silver where one day's orders collapsed."""
    from lanhai.quality.gate import run_gate
    from lanhai.report import build_report

    for db in ("report_silver", "report_audit"):
        spark.sql(f"drop database if exists {db} cascade")
        spark.sql(f"create database {db}")
    try:
        for t in ("orders", "users"):
            spark.sql(f"create table report_silver.{t} shallow clone "
                      f"{config.table('silver', t)}")
        dbs = {**config.raw["databases"], "silver": "report_silver", "audit": "report_audit"}
        scratch = replace(config, raw={**config.raw, "databases": dbs},
                          paths={**config.paths, "reports": tmp_path})
        start, end = parse_week(week)
        day = start + timedelta(days=2)
        spark.sql(f"delete from report_silver.orders where "
                  f"to_date(coalesce(paid_at, created_at)) = date '{day}'")
        result = run_gate(spark, scratch, start, end, entities=["orders"],
                          raise_on_failure=False)
        assert result is not None
        files = build_report(spark, scratch, week=week, pdf=False)
        assert files.status == "gate_failed"
        for lang in ("zh", "en"):
            page = parse(files.html[lang])
            assert "gate-failed" in page.ids
            assert not [c for c in page.cells if "data-kpi" in c], "KPIs shown despite the gate"
        text = files.html["en"].read_text(encoding="utf-8")
        assert "failed the quality gate" in text
        assert "orders" in text and "daily order volume" in text
    finally:
        for db in ("report_silver", "report_audit"):
            spark.sql(f"drop database if exists {db} cascade")
