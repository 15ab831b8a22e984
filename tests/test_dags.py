"""The DAG files: they import without errors, do no work at parse time, and every DAG has
tags, an owner, retries, docs and its Spark tasks in the one-slot `spark` pool."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lanhai.config import PROJECT_ROOT

PARSE = r"""
import json, sys, time
t = time.time()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.time() - t
heavy = sorted(m for m in sys.modules if m.split(".")[0] in
               ("pyspark", "py4j", "great_expectations", "duckdb") or m == "dbt.cli.main")
dags = {}
for dag_id, d in bag.dags.items():
    dags[dag_id] = {
        "tags": sorted(d.tags), "owner": d.owner, "doc": d.doc_md or "",
        "retries": sorted({t.retries for t in d.tasks}),
        "callbacks": all(t.on_failure_callback for t in d.tasks),
        "tasks": {t.task_id: t.pool for t in d.tasks},
        "dbt_flags": {t.task_id: list(t.dbt_cmd_flags or []) for t in d.tasks
                      if hasattr(t, "dbt_cmd_flags")},
        "timetable": type(d.timetable).__name__,
        "timetable_summary": str(getattr(d.timetable, "expression", "")),
        "timezone": str(getattr(d.timetable, "timezone", "")),
    }
print("RESULT " + json.dumps({"errors": {k: str(v)[-1500:] for k, v in bag.import_errors.items()},
                              "dags": dags, "heavy": heavy, "seconds": seconds}))
"""
EXPECTED = {f"lanhai_ingest_{d}" for d in ("user", "product", "transaction", "logistics",
                                           "marketing", "fx", "growth")} | {"lanhai_quality",
                                                                  "lanhai_transform",
                                                                  "lanhai_maintenance",
                                                                  "lanhai_erasure",
                                                                  "lanhai_weekly_review",
                                                                  "lanhai_quarterly_review"}


def _parse(tmp_path_factory, **extra_env: str) -> dict:
    """Parse dags/ in a fresh process with the project's Airflow environment."""
    from lanhai.airflow_env import environ
    from lanhai.config import load_config
    from lanhai.dbt import build_manifest

    config = load_config("test")
    build_manifest(config)
    env = {**environ(config), **extra_env}
    env["AIRFLOW_HOME"] = str(tmp_path_factory.mktemp("airflow-home"))
    proc = subprocess.run([sys.executable, "-c", PARSE, str(PROJECT_ROOT / "dags")], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert line, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(line[0][7:])


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    """The DAGs as the profiles configure them (the transform: a `dbt build` per layer), whatever
    the shell running the tests exports."""
    return _parse(tmp_path_factory, LANHAI_DBT_TASKS="")


@pytest.fixture(scope="module")
def parsed_by_model(tmp_path_factory):
    """The DAGs with the transform's other mode: a Cosmos task per dbt model."""
    return _parse(tmp_path_factory, LANHAI_DBT_TASKS="model")


def test_dags_import_without_errors(parsed):
    assert parsed["errors"] == {}
    assert set(parsed["dags"]) == EXPECTED


def test_parsing_starts_no_spark_gx_or_dbt(parsed):
    assert parsed["heavy"] == [], "a DAG file imports heavy work at parse time"


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_every_dag_is_documented_owned_tagged_and_retried(parsed, dag_id):
    d = parsed["dags"][dag_id]
    assert "lanhai" in d["tags"] and len(d["tags"]) >= 2
    assert d["owner"] == "data-engineering"
    assert len(d["doc"]) > 200 and d["doc"].lstrip().startswith("###")
    assert d["retries"] and min(d["retries"]) >= 1
    assert d["callbacks"], "every task has the failure callback"


def test_spark_tasks_share_the_one_slot_pool(parsed):
    for dag_id, d in parsed["dags"].items():
        for task_id, pool in d["tasks"].items():
            if task_id in ("interval", "wait_for_marts", "freshness"):  # no Spark
                assert pool != "spark", (dag_id, task_id)
                continue
            assert pool == "spark", (dag_id, task_id)


def test_the_transform_builds_layer_by_layer_unless_told_per_model(parsed):
    from lanhai.dbt import dbt_layers

    tasks = parsed["dags"]["lanhai_transform"]["tasks"]
    layers = [f"dbt_build_{layer}" for layer, _s, _e in dbt_layers()]
    assert set(layers) <= set(tasks)
    assert not [t for t in tasks if t.endswith("_model_build")]


def test_the_transform_mode_comes_from_the_profile_or_the_environment(monkeypatch):
    from dataclasses import replace

    from lanhai.dbt import dbt_tasks

    config = _config()
    monkeypatch.delenv("LANHAI_DBT_TASKS", raising=False)
    assert dbt_tasks(config) == "layer"
    model = replace(config, raw={**config.raw, "airflow": {**config.airflow, "dbt_tasks": "model"}})
    assert dbt_tasks(model) == "model"
    monkeypatch.setenv("LANHAI_DBT_TASKS", "layer")
    assert dbt_tasks(model) == "layer"
    monkeypatch.setenv("LANHAI_DBT_TASKS", "models")
    with pytest.raises(ValueError, match=r"LANHAI_DBT_TASKS\) is 'models'"):
        dbt_tasks(config)


def test_transform_runs_every_dbt_model_as_a_task_with_its_tests(parsed_by_model):
    tasks = parsed_by_model["dags"]["lanhai_transform"]["tasks"]
    manifest = json.loads((_config().path("dbt") / "target" / "manifest.json").read_text())
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    # Cosmos, TestBehavior.BUILD: one `dbt build` task per model (model, then its tests)
    built = {t.removeprefix("dbt.").removesuffix("_model_build") for t in tasks
             if t.endswith("_model_build")}
    assert models <= built, sorted(models - built)[:5]


def test_the_transform_leaves_dbts_unit_tests_to_the_test_suite(parsed, parsed_by_model):
    """Unit tests check the models' SQL on fixed inputs: a production run repeats them for
    nothing (tests/test_dbt_project.py runs them)."""
    from lanhai.dbt import PRODUCTION_FLAGS, dbt_layers

    for dags, least in ((parsed, len(dbt_layers())), (parsed_by_model, 60)):
        flags = dags["dags"]["lanhai_transform"]["dbt_flags"]
        assert len(flags) >= least, sorted(flags)[:5]
        assert {t: f for t, f in flags.items() if f != PRODUCTION_FLAGS} == {}
    assert PRODUCTION_FLAGS == ["--exclude-resource-type", "unit_test"]


def test_assets_link_ingest_quality_and_transform(parsed):
    dags = parsed["dags"]
    assert dags["lanhai_quality"]["timetable"] == "AssetTriggeredTimetable"
    assert dags["lanhai_transform"]["timetable"] == "AssetTriggeredTimetable"
    assert all(dags[d]["timetable"] == "CronTriggerTimetable"
               for d in EXPECTED if d.startswith("lanhai_ingest_"))


def _config():
    from lanhai.config import load_config

    return load_config("test")


def test_the_weekly_review_runs_on_mondays_at_nine_in_shanghai(parsed):
    d = parsed["dags"]["lanhai_weekly_review"]
    assert d["timetable"] == "CronTriggerTimetable"
    assert d["timetable_summary"] == "0 9 * * 1"
    assert "Shanghai" in d["timezone"]
    assert list(d["tasks"]) == ["wait_for_marts", "build_report"]


@pytest.mark.parametrize(("logical", "week"), [
    ("2025-06-09T09:00:00+08:00", "2025-W23"),   # a Monday run: last week
    ("2025-06-09T01:00:00+00:00", "2025-W23"),   # the same instant in UTC
    ("2025-06-11T09:00:00+08:00", "2025-W23"),   # a manual run mid-week: the last full week
])
def test_the_weekly_review_reports_on_the_week_that_ended(logical, week):
    from datetime import datetime

    from lanhai.intervals import review_week

    assert review_week({"logical_date": datetime.fromisoformat(logical)}) == week
    assert review_week({"params": {"week": "2024-W46"}}) == "2024-W46"


def test_the_quarterly_review_runs_on_the_first_monday_of_each_quarter(parsed):
    from datetime import datetime

    from croniter import croniter

    d = parsed["dags"]["lanhai_quarterly_review"]
    assert d["timetable"] == "CronTriggerTimetable"
    assert "Shanghai" in d["timezone"]
    assert list(d["tasks"]) == ["wait_for_marts", "build_report"]
    runs = croniter(d["timetable_summary"], datetime(2025, 1, 1))
    assert [runs.get_next(datetime) for _ in range(5)] == [
        datetime(2025, 1, 6, 9), datetime(2025, 4, 7, 9), datetime(2025, 7, 7, 9),
        datetime(2025, 10, 6, 9), datetime(2026, 1, 5, 9)]


@pytest.mark.parametrize(("logical", "quarter"), [
    ("2025-04-07T09:00:00+08:00", "2025Q1"),   # the first Monday of April: Q1
    ("2025-04-07T01:00:00+00:00", "2025Q1"),   # the same instant in UTC
    ("2025-01-06T09:00:00+08:00", "2024Q4"),   # January: last year's fourth quarter
    ("2025-03-31T20:00:00+00:00", "2025Q1"),   # 1 April 04:00 in Shanghai: Q1 has ended
])
def test_the_quarterly_review_reports_on_the_quarter_that_ended(logical, quarter):
    from datetime import datetime

    from lanhai.intervals import review_quarter

    assert review_quarter({"logical_date": datetime.fromisoformat(logical)}) == quarter
    assert review_quarter({"params": {"quarter": "2024Q2"}}) == "2024Q2"


@pytest.mark.parametrize(("day", "week"), [
    ("2025-06-22", "2025-W25"),   # a Sunday: its own week is covered
    ("2025-06-23", "2025-W25"),   # the Monday after: that week is still the last covered
    ("2025-06-28", "2025-W25"),   # a Saturday: not yet its own week
    ("2025-01-05", "2025-W01"),   # ISO years: the week of Sunday 5 January 2025
    ("2025-01-04", "2024-W52"),   # the Saturday before: 2024's last week
])
def test_the_last_complete_week_of_a_date(day, week):
    from datetime import date

    from lanhai.intervals import last_complete_week

    assert last_complete_week(date.fromisoformat(day)) == week


def test_the_layer_mode_builds_every_model_once_after_what_it_reads(parsed):
    """The cluster profile's transform (`airflow.dbt_tasks: layer`): a `dbt build` per layer.
    Each model and seed is in one layer, and everything it reads is built by its own layer or
    an earlier one (an intermediate view that reads `fct_orders` cannot go before the core)."""
    from dbt.cli.main import dbtRunner

    from lanhai.dbt import DBT_DIR, dbt_layers, write_profiles

    config = _config()
    target = config.path("dbt")
    manifest = json.loads((target / "target" / "manifest.json").read_text())
    nodes = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] in ("model", "seed")}
    layer_of: dict[str, int] = {}
    for i, (layer, select, exclude) in enumerate(dbt_layers()):
        args = ["ls", "--resource-type", "model", "--resource-type", "seed", "--output", "json",
                "--output-keys", "unique_id", "--select", select, "--project-dir", str(DBT_DIR),
                "--profiles-dir", str(write_profiles(config)), "--target-path",
                str(target / "target"), "--log-path", str(target / "logs"), "--quiet"]
        if exclude:
            args += ["--exclude", exclude]
        result = dbtRunner().invoke(args)
        assert result.success, result.exception
        ids = [json.loads(line)["unique_id"] for line in result.result]
        assert ids, f"layer {layer} selects nothing"
        for uid in ids:
            assert uid not in layer_of, f"{uid} is in two layers"
            layer_of[uid] = i
    assert set(layer_of) == set(nodes), sorted(set(nodes) ^ set(layer_of))[:5]
    late = [(uid, parent) for uid, n in nodes.items()
            for parent in n.get("depends_on", {}).get("nodes", [])
            if parent in layer_of and layer_of[parent] > layer_of[uid]]
    assert not late, late[:5]
    # the old folder layers put an intermediate view that reads the core marts before them
    assert layer_of["model.lanhai.int_order_items_paid"] >= layer_of["model.lanhai.fct_order_items"]


def test_every_kpi_mart_enforces_its_contract_and_has_a_unit_test(parsed):
    """Issue 13.4: each KPI mart declares every column with its type and dbt enforces it, so a
    model change that renames, drops or retypes a published column fails its build; and each
    has a dbt unit test of its logic on rows of its own."""
    manifest = json.loads((_config().path("dbt") / "target" / "manifest.json").read_text())
    kpis = [n for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["name"].startswith("kpi_")]
    assert len(kpis) >= 15
    for n in kpis:
        assert n["config"]["contract"]["enforced"], n["name"]
        untyped = [c for c, col in n["columns"].items() if not col.get("data_type")]
        assert n["columns"] and not untyped, (n["name"], untyped)
    tested = {u["model"] for u in manifest.get("unit_tests", {}).values()}
    assert not {n["name"] for n in kpis} - tested, sorted({n["name"] for n in kpis} - tested)


def test_no_two_unit_tests_share_a_name_or_a_models_temporary_view(parsed):
    """dbt runs two nodes at once (`dbt.threads: 2`) on one Spark session, and a dbt unit test
    puts its model's rows in a session-wide temporary view named `<unit test>__dbt_tmp`, as an
    incremental model puts its new rows in `<model>__dbt_tmp`: two nodes with one name would
    overwrite each other's view while both run."""
    from collections import Counter

    manifest = json.loads((_config().path("dbt") / "target" / "manifest.json").read_text())
    names = [u["name"] for u in manifest.get("unit_tests", {}).values()]
    assert len(names) >= 15
    assert [n for n, k in Counter(names).items() if k > 1] == []
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert sorted(set(names) & models) == []
