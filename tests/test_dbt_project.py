"""The dbt project: generated files up to date, staging builds on the small lake."""

from __future__ import annotations

import re

import pytest
from conftest import STOPPED_AFTER, incremental_tables

from lanhai.dbt import SOURCES_YML, profiles, sources_text


def test_sources_yml_is_generated_from_the_contracts():
    assert SOURCES_YML.read_text(encoding="utf-8") == sources_text(), (
        "run `lanhai dbt-sources`: _sources.yml is out of date with schemas/")


def test_staging_columns_are_described_by_their_contract_fields():
    """_staging.yml's columns of silver tables' views take their contract field's description
    (through the view's renames: `size as merchant_size`), so a column means the same in the
    contract, the source, the staging view and the data dictionary."""
    import yaml

    from lanhai.contracts import contracts
    from lanhai.dbt import STAGING_YML, staging_text

    assert STAGING_YML.read_text(encoding="utf-8") == staging_text(), (
        "run `lanhai dbt-sources`: _staging.yml is out of date with schemas/")
    models = {m["name"]: m for m in yaml.safe_load(staging_text())["models"]}
    size = next(f for f in contracts()["merchants"].fields if f.name == "size")
    merchant_size = next(c for c in models["stg_product__merchants"]["columns"]
                         if c["name"] == "merchant_size")
    assert merchant_size["description"] == size.description


def test_no_column_description_only_repeats_the_columns_name():
    """`order_id: the order` says nothing: every model column says what it means (issue 12)."""
    import re

    import yaml

    from lanhai.dbt import DBT_DIR

    said_nothing = []
    for path in (DBT_DIR / "models").rglob("_*.yml"):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", []):
            for col in model.get("columns") or []:
                name = set(re.findall(r"[a-z0-9]+", col["name"].lower()))
                words = set(re.findall(r"[a-z0-9]+", (col.get("description") or "").lower()))
                if words <= name | {"the", "a", "an", "of", "id"}:
                    said_nothing.append(f"{model['name']}.{col['name']}")
    assert not said_nothing, said_nothing


def test_kpi_seeds_are_generated_from_the_targets_file():
    from lanhai.dbt import seed_texts

    for path, text in seed_texts().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"run `lanhai dbt-sources`: {path.name} is out of date with conf/targets.yaml")


def test_the_kpi_registry_is_one_place_that_dbt_reads():
    """conf/targets.yaml says where each KPI of the review comes from; dbt reads it through the
    generated macro, int_kpi_values_weekly loops over it, and a KPI without `from` is one the
    model shapes itself (issue 13: adding a KPI touches its mart, its yml and the registry); a
    quarterly KPI is shaped in mart_quarterly_review."""
    import re

    import yaml

    from lanhai.dbt import DBT_DIR, KPI_REGISTRY_MACRO, kpi_registry_text, load_targets

    assert KPI_REGISTRY_MACRO.read_text(encoding="utf-8") == kpi_registry_text(), (
        "run `lanhai dbt-sources`: macros/kpi_registry.sql is out of date with conf/targets.yaml")
    columns = {}
    for yml in (DBT_DIR / "models").rglob("*.yml"):
        for m in (yaml.safe_load(yml.read_text(encoding="utf-8")) or {}).get("models", []):
            columns[m["name"]] = {c["name"] for c in m.get("columns", [])}
    union = (DBT_DIR / "models" / "intermediate" / "int_kpi_values_weekly.sql").read_text(
        encoding="utf-8")
    assert "kpi_registry()" in union
    shaped = set(re.findall(r"'(\w+)' as kpi", union))
    for days in re.findall(r"\{%- for n in \[([\d, ]+)\] %\}", union):  # 'ltv_cac_{{ n }}d'
        shaped |= {f"ltv_cac_{n.strip()}d" for n in days.split(",")}
    quarterly = set(re.findall(r"'(\w+)' as kpi", (
        DBT_DIR / "models" / "marts" / "review" / "mart_quarterly_review.sql").read_text(
        encoding="utf-8")))
    for code, k in load_targets()["kpis"].items():
        src = k.get("from")
        if k.get("period") == "quarter":
            assert code in quarterly and code not in shaped, code
            continue
        if src is None:
            assert code in shaped, f"{code}: no `from` and not shaped in int_kpi_values_weekly"
            continue
        assert code not in shaped, f"{code}: both in the registry and shaped by hand"
        named = {src["value"], src["numerator"], src.get("denominator", src["value"])}
        assert named <= columns[src["mart"]], (code, named - columns[src["mart"]])


def test_targets_file_is_checked(tmp_path):
    from lanhai.dbt import load_targets

    bad = tmp_path / "targets.yaml"
    bad.write_text("kpis: {cac: {unit: cny, name_en: CAC, name_zh: CAC}}\n"
                   "targets: [{kpi: cac, scope_type: all, scope_value: all, direction: band,"
                   " low: 1}]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="band target needs low and high"):
        load_targets(bad)
    bad.write_text("kpis: {}\ntargets: [{kpi: cac, direction: lower, target: 50}]\n",
                   encoding="utf-8")
    with pytest.raises(ValueError, match="unknown kpi"):
        load_targets(bad)
    bad.write_text("kpis: {gmv: {unit: cny, name_en: GMV, year on year, name_zh: GMV}}\n"
                   "targets: []\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown keys"):
        load_targets(bad)
    bad.write_text("kpis: {gmv: {unit: cny, name_en: GMV, name_zh: GMV,"
                   " from: {mart: kpi_gmv_weekly, value: gmv_cny}}}\ntargets: []\n",
                   encoding="utf-8")
    with pytest.raises(ValueError, match="`from` needs mart, value and numerator"):
        load_targets(bad)
    bad.write_text("kpis: {gmv: {unit: cny, name_en: GMV, name_zh: GMV, report: [trend]}}\n"
                   "targets: []\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no report section \['trend'\]"):
        load_targets(bad)


def test_the_reports_sections_come_from_the_registry():
    """The weekly review's sections show the KPIs conf/targets.yaml's `report` names, in the
    registry's order (issue 13: a new KPI reaches the report without touching its code)."""
    from lanhai.dbt import REPORT_SECTIONS, load_targets
    from lanhai.report import data

    kpis = load_targets()["kpis"]
    for section in REPORT_SECTIONS:
        shown = data.section_kpis(section)
        assert shown, section
        assert list(shown) == [k for k in kpis if section in kpis[k].get("report", [])]
    assert data.HEADLINE_SIZE_KPIS == ("gmv", "net_sales", "paid_orders", "aov", "new_customers")
    assert set(data.TREND_KPIS) == {"gmv", "paid_orders", "aov", "repurchase_rate_90d", "cac",
                                    "channel_penetration", "nonstandard_share",
                                    "logistics_cost_share", "on_time_delivery_rate"}


def test_bronze_lineage_view_lists_every_contract():
    import re

    from lanhai.contracts import contracts
    from lanhai.dbt import DBT_DIR, generated_macros

    for path, text in generated_macros().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"run `lanhai dbt-sources`: macros/{path.name} is out of date")
    sql = (DBT_DIR / "macros" / "bronze_entities.sql").read_text()
    listed = set(re.findall(r"\('(\w+)', '(\w+)'\)", sql))
    assert listed == {(c.domain, c.entity) for c in contracts().values()}
    view = (DBT_DIR / "models" / "staging" / "stg_bronze__records.sql").read_text()
    assert "in bronze_entities()" in view and not re.search(r"\('\w+', '\w+'\)", view)


def test_profile_uses_the_session_and_the_projects_catalog(config):
    out = profiles(config)["lanhai"]["outputs"][config.profile]
    assert out["method"] == "session"
    params = out["server_side_parameters"]
    assert params["spark.sql.warehouse.dir"] == str(config.lake)
    assert str(config.path("catalog")) in params["spark.hadoop.javax.jdo.option.ConnectionURL"]


@pytest.mark.integration
def test_incremental_run_equals_a_full_refresh(built, spark):
    tables = incremental_tables(spark)
    assert {"fct_orders", "fct_order_items", "kpi_gmv_weekly", "mart_weekly_review"} <= set(tables)
    for t in tables:
        incremental = spark.table(f"incremental_copy.{t}").drop("dbt_built_at")
        full = spark.table(f"marts.{t}").drop("dbt_built_at")
        assert incremental.count() == full.count(), t
        assert incremental.exceptAll(full).count() == 0, t
        assert full.exceptAll(incremental).count() == 0, t


@pytest.mark.integration
def test_incremental_run_processes_only_new_and_lookback_data(built, spark, config):
    from datetime import timedelta

    # facts: the MERGE took the rows loaded since the last build and the 7-day lookback only
    # (the order facts twice: in the run stopped after them, and in the run that finished)
    for fact in ("fct_order_items", "fct_orders", "fct_inventory_daily"):
        merges = [h for h in built["history"][fact] if h["operation"] == "MERGE"]
        assert len(merges) == (2 if fact in STOPPED_AFTER else 1), fact
        total = spark.table(f"incremental_copy.{fact}").count()
        for merge in merges:
            source_rows = int(merge["operationMetrics"]["numSourceRows"])
            assert 0 < source_rows < total / 5, (fact, source_rows, total)
    # weekly marts: a suffix of the weeks was rewritten, none before the new data's first day
    rewritten, kept = set(), set()
    for r in spark.table("incremental_copy.kpi_gmv_weekly").select(
            "week_end_date", "dbt_built_at").distinct().collect():
        (rewritten if r.dbt_built_at > built["previous_build"] else kept).add(r.week_end_date)
    assert rewritten and kept
    assert max(kept) < min(rewritten)
    # (a file without a date a weekly mart is keyed by, e.g. the merchant survey: none)
    earliest = min(d for d in (_business_dates(config.landing / f) for f in built["held_back"])
                   if d)
    assert min(rewritten) >= earliest + timedelta(days=6 - earliest.weekday())


@pytest.mark.integration
def test_an_incremental_window_kpi_reads_only_the_days_its_weeks_need(built, spark, config):
    """The 90-day repurchase rate compiled as an incremental run compiles it: Spark filters the
    fact by the first day the recomputed weeks' windows need *before* the window explosion and
    the SCD2 joins, rather than computing every week of history and keeping the last few."""
    from lanhai.dbt import run_dbt

    assert run_dbt(config, ["compile", "--select", "kpi_repurchase_weekly"])
    sql = (config.path("dbt") / "target" / "compiled" / "lanhai" / "models" / "marts" / "kpi"
           / "kpi_repurchase_weekly.sql").read_text(encoding="utf-8")
    plan = spark.sql("explain extended " + sql).first()[0]
    optimized = plan.split("== Optimized Logical Plan ==")[1].split("== Physical Plan ==")[0]
    lines = optimized.splitlines()

    def depth(line: str) -> int:
        return len(line) - len(line.lstrip(" :+-"))

    explode = [i for i, x in enumerate(lines) if "Generate explode(sequence(" in x]
    # recompute_from() is a date literal queried when dbt runs (or compiles) the model: the
    # bound is a constant date, which Delta can also use to skip files
    bound = [i for i, x in enumerate(lines) if "Filter" in x
             and re.search(r"paid_date#\d+ >= \d{4}-\d\d-\d\d\b", x)]
    assert len(explode) == 1 and bound, optimized
    assert any(i > explode[0] and depth(lines[i]) > depth(lines[explode[0]]) for i in bound), \
        optimized


SCOPED_TEST = "unique_combination_int_order_items_paid_order_id__line_no"
UNSCOPED_TEST = "unique_combination_fct_order_items_order_id__line_no"


def _compiled_test(config, name: str, *args: str) -> str:
    from lanhai.dbt import run_dbt

    assert run_dbt(config, ["compile", "--select", name, *args])
    found = list((config.path("dbt") / "target" / "compiled" / "lanhai").rglob(f"{name}.sql"))
    assert len(found) == 1, found
    return found[0].read_text(encoding="utf-8")


def _tests_since(spark, config):
    """The earliest business date silver loaded since the last passed build started (None:
    no build passed yet), from audit.mart_builds and int_changes, read here."""
    builds = spark.table(config.table("audit", "mart_builds")).toPandas()
    passed = builds[(builds.kind == "transform")
                    & builds.build_id.isin(builds[builds.kind == "passed"].build_id)]
    if passed.empty:
        return None
    after = passed.started_at.max()
    changed = spark.sql(f"select min(changed_date) from intermediate.int_changes "
                        f"where silver_loaded_at > timestamp '{after}'").first()[0]
    return str(changed or "9999-12-31")


@pytest.mark.integration
def test_an_incremental_runs_data_tests_read_what_was_loaded_since_the_last_passed_build(
        built, spark, config):
    """A model with a `test_scope` is tested, outside a full refresh, on its rows dated from the
    earliest business date loaded since the last build that passed, less the lookback and a
    week (dbt_project/macros/test_scope.sql): a build that started but did not pass does not
    move that date; one that passed does. `full_tests` and models without a scope read every
    row."""
    from lanhai.landed import record_build, record_build_passed

    def scope(since):
        return f"paid_date >= date_sub(date '{since}', 13)"  # lookback_days 7 + 6

    since = _tests_since(spark, config)
    sql = _compiled_test(config, SCOPED_TEST)
    assert (scope(since) in sql) if since else ("date_sub(" not in sql), sql
    # a build starts, and fails: the scope stays where the last passed build put it
    started = record_build(spark, config)
    assert _tests_since(spark, config) == since
    assert _compiled_test(config, SCOPED_TEST) == sql
    # it passes: nothing was loaded since it started, so the scope holds no row
    record_build_passed(spark, config, started)
    assert _tests_since(spark, config) == "9999-12-31"
    assert scope("9999-12-31") in _compiled_test(config, SCOPED_TEST)
    # every row with full_tests, and for a model without a scope
    assert "date_sub(" not in _compiled_test(config, SCOPED_TEST, "--vars", "{full_tests: true}")
    assert "date_sub(" not in _compiled_test(config, UNSCOPED_TEST)


@pytest.mark.integration
def test_a_mart_with_nothing_loaded_since_its_build_skips_its_overwrite(built, spark, config):
    """A second incremental run with nothing loaded into silver in between recomputes no week:
    the mart's `insert overwrite` (planning the whole query, reading the facts) is replaced
    by a no-op statement (get_insert_overwrite_sql, dbt_project/macros/incremental.sql), and
    the query it skipped, run here, would indeed have written no row."""
    from lanhai.dbt import run_dbt

    target = config.path("dbt") / "target"
    main = target / "run" / "lanhai" / "models" / "marts" / "kpi" / "kpi_gmv_weekly.sql"
    for _ in range(2):  # the first brings the mart up to date, whatever the tests before did
        main.unlink(missing_ok=True)
        assert run_dbt(config, ["run", "--select", "kpi_gmv_weekly"])
    sql = main.read_text(encoding="utf-8")
    assert "nothing to recompute" in sql and "insert overwrite" not in sql, sql
    skipped = (target / "compiled" / "lanhai" / "models" / "marts" / "kpi"
               / "kpi_gmv_weekly.sql").read_text(encoding="utf-8")
    assert spark.sql(skipped).count() == 0


def _business_dates(path):
    """The earliest business date in a landed file (read here, not through the pipeline)."""
    import csv
    import json

    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        return min(pq.read_table(path, columns=["snapshot_date"]).column(0).to_pylist())
    if path.suffix == ".jsonl":
        days = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a malformed line is quarantined, never loaded
            when = rec.get("paid_at") or rec.get("created_at") or rec.get("refunded_at") \
                or rec.get("shipped_at") or rec.get("audited_at") or rec.get("assigned_at")
            days.append(when)
        return min((d for d in map(_day, days) if d), default=None)
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    # an experiment's end reaches its readout's week (int_changes)
    days = [r.get("spend_date") or r.get("rate_date") or r.get("exposed_at")
            or min((d for d in (r.get("updated_at"), r.get("ended_at")) if d), default=None)
            for r in rows]
    return min((d for d in map(_day, days) if d), default=None)


def _day(text):
    """The date of an ISO timestamp or date; None for a value the contract would reject."""
    from datetime import date

    try:
        return date.fromisoformat(text[:10]) if isinstance(text, str) else None
    except ValueError:
        return None


@pytest.mark.integration
def test_staging_views_show_every_silver_row(built, spark):
    for name, silver in [("stg_transaction__orders", "orders"),
                         ("stg_transaction__order_items", "order_items"),
                         ("stg_user__users", "users")]:
        assert spark.table(f"staging.{name}").count() == spark.table(f"silver.{silver}").count()


def _all_scope(spark, mart, key="iso_week_label"):
    rows = spark.table(f"marts.{mart}").where("scope_type = 'all'").collect()
    return {r[key]: r for r in rows}


@pytest.mark.integration
def test_no_mart_publishes_the_week_or_the_cohort_month_in_progress(built, spark, config):
    """The small lake ends on Monday 2025-06-23: its week (2025-W26, one day of data) is not
    published by any weekly mart, nor June 2025 as an LTV cohort; 2025-W25 is."""
    from datetime import date, timedelta

    sim = config.raw["simulator"]
    last = date.fromisoformat(sim["start"]) + timedelta(days=sim["days"] - 1)
    assert last.isoweekday() == 1, "the small lake is meant to end on a Monday"
    in_progress = "{}-W{:02d}".format(*last.isocalendar()[:2])
    before = "{}-W{:02d}".format(*(last - timedelta(days=1)).isocalendar()[:2])
    weekly = [t.name for t in spark.catalog.listTables("marts")
              if t.tableType != "VIEW" and not t.isTemporary and "iso_week_label" in
              {c.name for c in spark.catalog.listColumns(f"marts.{t.name}")}
              and t.name.startswith(("kpi_", "mart_weekly"))]
    assert len(weekly) >= 14
    for name in weekly:
        weeks = {r[0] for r in spark.sql(
            f"select distinct iso_week_label from marts.{name}").collect()}
        assert in_progress not in weeks, name
        assert before in weeks, name
    cohorts = {r[0] for r in spark.sql(
        "select distinct cohort_month from marts.kpi_ltv_cohort_monthly").collect()}
    assert last.replace(day=1) not in cohorts
    assert (last.replace(day=1) - timedelta(days=1)).replace(day=1) in cohorts


@pytest.mark.integration
def test_weekly_gmv_matches_the_simulators_truth_to_the_cent(built, spark):
    from decimal import Decimal

    mart = _all_scope(spark, "kpi_gmv_weekly")
    weeks = built["manifest"]["truth"]["weekly"]
    assert len(weeks) > 70
    for w in weeks:
        row = mart[w["week"]]
        assert row.gmv_cny == Decimal(f"{w['gmv']:.2f}"), w["week"]
        assert row.net_sales_cny == Decimal(f"{w['net_sales']:.2f}"), w["week"]
        assert row.paid_orders == w["paid_orders"], w["week"]


@pytest.mark.integration
@pytest.mark.parametrize(("mart", "column", "truth"), [
    ("kpi_nonstandard_share_weekly", "nonstandard_share", "nonstandard_share"),
    ("kpi_channel_penetration_weekly", "channel_penetration", "channel_penetration"),
    ("kpi_cac_weekly", "new_customers", "new_customers"),
    ("kpi_cac_weekly", "spend_cny", "spend"),
    ("kpi_cac_weekly", "cac_cny", "cac"),
    ("kpi_repurchase_weekly", "repurchase_rate", "repurchase_90d"),
    ("kpi_smb_repurchase_weekly", "repurchase_rate", "smb_repurchase_90d"),
    ("kpi_logistics_weekly", "logistics_cost_share", "logistics_cost_share"),
    ("kpi_logistics_weekly", "on_time_delivery_rate", "on_time_delivery"),
    ("kpi_smart_device_60plus_weekly", "smart_device_penetration",
     "smart_device_penetration_60plus"),
])
def test_weekly_kpi_matches_the_simulators_truth(built, spark, mart, column, truth):
    rows = {k: r[column] for k, r in _all_scope(spark, mart).items()}
    for w in built["manifest"]["truth"]["weekly"]:
        got, want = rows[w["week"]], w[truth]
        if want is None:
            assert got is None, (w["week"], got)
        elif column == "cac_cny":  # money: the mart rounds to the cent
            assert float(got) == pytest.approx(round(want, 2), abs=0.005), w["week"]
        else:
            assert float(got) == pytest.approx(want, rel=1e-12, abs=1e-12), w["week"]


@pytest.mark.integration
@pytest.mark.parametrize("category", ["3c_appliances", "beauty"])
def test_sku_overlap_matches_the_simulators_truth(built, spark, category):
    rows = {r.iso_week_label: r.sku_overlap_rate for r in spark.table(
        "marts.kpi_sku_overlap_weekly").where(f"scope_value = '{category}'").collect()}
    for w in built["manifest"]["truth"]["weekly"]:
        assert rows[w["week"]] == pytest.approx(w[f"sku_overlap_{category}"], rel=1e-12)


@pytest.mark.integration
def test_first_year_survival_matches_the_simulators_truth(built, spark):
    mart = {str(r.cohort_month)[:7]: r for r in spark.table(
        "marts.kpi_merchant_survival_monthly").where("is_covered").collect()}
    truth = built["manifest"]["truth"]["first_year_survival"]
    assert truth, "the small demo must cover at least one cohort's first year"
    assert set(mart) == {t["cohort_month"] for t in truth}
    for t in truth:
        row = mart[t["cohort_month"]]
        assert (row.numerator, row.denominator) == (t["survivors"], t["merchants"])


@pytest.mark.integration
def test_every_kpi_equals_an_independent_computation_from_the_landing_files(built, spark,
                                                                            config):
    """The weekly review against tests/reference_kpis.py (Python + DuckDB from the landing
    files): the same rows; numerators and denominators exact (money to the cent, counts);
    values equal up to float rounding."""
    from reference_kpis import KEYS, reference_review, review_differences

    want = reference_review(config.landing).to_dict("records")
    got = [r.asDict() for r in spark.table("marts.mart_weekly_review").select(
        *KEYS, "value", "numerator", "denominator").collect()]
    assert len(want) > 20_000
    diff = review_differences(want, got)
    assert diff["extra"][:10] == [], "rows the reference does not have"
    assert diff["missing"][:10] == [], "rows missing from the mart"
    bad = diff["different"]
    assert not bad, f"{len(bad)} differences, e.g. {bad[:8]}"


@pytest.mark.integration
def test_every_dbt_unit_test_passes(built, config):
    """The models' unit tests (fixed inputs, expected rows), which production runs leave out
    (lanhai.dbt.PRODUCTION_FLAGS): all of them run here, and pass."""
    import json

    from lanhai.dbt import run_dbt

    assert run_dbt(config, ["test", "--select", "test_type:unit"]), "a dbt unit test failed"
    target = config.path("dbt") / "target"
    results = json.loads((target / "run_results.json").read_text())["results"]
    manifest = json.loads((target / "manifest.json").read_text())
    assert len(manifest["unit_tests"]) >= 20
    assert {r["unique_id"] for r in results} == set(manifest["unit_tests"])
    assert {r["status"] for r in results} == {"pass"}


def test_docs_generate_documents_every_model(built, config):
    import json

    from lanhai.dbt import run_dbt

    assert run_dbt(config, ["docs", "generate"]), "dbt docs generate failed"
    target = config.path("dbt") / "target"
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    models = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    assert models and all(n["description"] for n in models.values()), "a model has no docs"
    undocumented = [k for k, n in models.items() if not n["columns"]]
    assert not undocumented, undocumented
    assert set(models) <= set(catalog["nodes"]), "a model is missing from the catalog"


def test_the_docs_are_served_on_the_loopback_address(built, config):
    """`lanhai dbt-docs --no-generate` (after the test above generated them): the site and its
    manifest over HTTP on 127.0.0.1, and the server gone after SIGTERM."""
    import json
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "lanhai.cli", "dbt-docs", "--no-generate",
                             "--port", str(port)], env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
                time.sleep(0.2)
        assert b"dbt" in page.lower()
        manifest = json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{port}/manifest.json", timeout=5).read())
        assert "model.lanhai.mart_weekly_review" in manifest["nodes"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    with pytest.raises(OSError):  # stopped by its PID: nothing answers on the port any more
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)


def test_the_data_dictionary_is_generated_and_explains_every_model_and_field():
    """docs/data-dictionary.md is what `lanhai dbt-sources` writes from the contracts and the
    models' yml; every model has a section with a description, every contract field a row."""
    from lanhai.contracts import contracts
    from lanhai.dbt import DBT_DIR
    from lanhai.dictionary import DICTIONARY, dictionary_text

    text = dictionary_text()
    assert DICTIONARY.read_text(encoding="utf-8") == text, "run `lanhai dbt-sources`"
    sections = {s.split("`")[1].split(".")[1]: s for s in text.split("\n### ")[1:]}
    for sql in (DBT_DIR / "models").rglob("*.sql"):
        assert sql.stem in sections, f"{sql.stem} is not in the dictionary"
        description = sections[sql.stem].split("\n\n")[1]
        assert len(description) > 20, f"{sql.stem} has no description"
    for c in contracts().values():
        section = sections[c.entity]
        for f in c.fields:
            assert f"| `{f.name}` | {f.type} |" in section, (c.entity, f.name)
