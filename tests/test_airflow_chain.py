"""The chain through Airflow on the small lake: every domain's ingest DAG, the quality gate and
the dbt transform (Cosmos), one run each over all the days that arrived (`dag.test()`, what
`airflow dags test` does), in the test session's Spark process. That run is the small lake's
first build (tests/conftest.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chain(small_lake):
    """The chain ran as the small lake's first build (conftest.small_lake), over every day but
    the last (held back with the late shipments files)."""
    from pathlib import Path

    run = small_lake["chain"]
    return {**run, "start": date.fromisoformat(run["start"]),
            "end": date.fromisoformat(run["end"]), "home": Path(run["home"])}


def test_every_dag_and_task_of_the_chain_succeeded(chain):
    from lanhai.airflow_env import chain as chain_ids
    from lanhai.dbt import dbt_layers

    results = chain["results"]
    assert list(results) == chain_ids()
    for dag_id, (state, _, tasks) in results.items():
        assert state == "success", dag_id
        assert tasks and all(s == "success" for s in tasks.values()), (dag_id, tasks)
    # the embedded default: a `dbt build` per layer
    assert {f"dbt_build_{layer}" for layer, _s, _e in dbt_layers()} <= set(
        results["lanhai_transform"][2])


def test_the_runs_are_audited_with_their_interval(chain, spark, config):
    rows = spark.sql(f"select dag_id, task_id, status, interval_start, interval_end from "
                     f"{config.table('audit', 'pipeline_runs')} where recorded_at >= "
                     f"'{chain['began']}'").collect()
    seen = {(r.dag_id, r.task_id) for r in rows}
    assert {(d, "ingest") for d in chain["results"] if d.startswith("lanhai_ingest_")} <= seen
    assert ("lanhai_quality", "validate") in seen
    assert ("lanhai_transform", "publish") in seen
    assert all((r.interval_start, r.interval_end) == (chain["start"], chain["end"])
               for r in rows if r.dag_id != "lanhai_weekly_review")


def test_the_weekly_review_dag_built_the_report_of_the_last_complete_week(chain, spark,
                                                                         config):
    import json

    from lanhai.intervals import last_complete_week
    from lanhai.report.data import parse_week

    week = last_complete_week(chain["end"])
    folder = config.path("reports") / week
    snapshot = json.loads((folder / "snapshot.json").read_text(encoding="utf-8"))
    assert snapshot["status"] == "ok" and snapshot["gate"] == "passed"
    for lang in ("zh", "en"):
        assert (folder / f"review-{week}.{lang}.pdf").stat().st_size > 10_000
    # the chain's run, and the reruns of tests/reliability/test_dag_reruns.py if they ran
    rows = spark.sql(f"select status, interval_start, interval_end from "
                     f"{config.table('audit', 'pipeline_runs')} where dag_id = "
                     f"'lanhai_weekly_review' and recorded_at >= '{chain['began']}'").collect()
    assert 1 <= len(rows) <= 3
    for row in rows:
        assert row.status == "ok"
        assert (row.interval_start, row.interval_end) == parse_week(week)


def test_the_gate_recorded_its_checks_and_the_marts_are_built(chain, spark, config):
    checks = spark.sql(f"select count(*) as n, count_if(not success and severity = 'critical')"
                       f" as failed from {config.table('audit', 'quality_results')} where "
                       f"checked_at >= '{chain['began']}'").first()
    assert checks.n > 100 and checks.failed == 0
    docs = config.path("quality") / "gx" / "uncommitted" / "data_docs" / "local_site"
    assert (docs / "index.html").exists(), "Data Docs were not built"
    weeks = spark.sql(f"select count(distinct iso_week_label) from "
                      f"{config.db('marts')}.mart_weekly_review where is_complete_week").first()[0]
    assert weeks > 70


def test_each_week_counts_the_checks_of_the_latest_gate_run_covering_it(chain, spark, config):
    """Counted in Python from audit.quality_results: per table, the latest run whose interval
    reaches into the week decides it (the gate ran once over all the days, so every week of
    the chain shows that run's checks, not only the week its interval ends in)."""
    from collections import Counter

    from lanhai.intervals import last_complete_week
    from lanhai.report.data import parse_week

    week = last_complete_week(chain["end"])
    start, end = parse_week(week)
    checks = spark.sql(f"select run_id, checked_at, table_name, success, severity from "
                       f"{config.table('audit', 'quality_results')} where interval_start <= "
                       f"date '{end}' and interval_end >= date '{start}'").collect()
    latest = {}
    for r in checks:
        latest[r.table_name] = max(latest.get(r.table_name, (r.checked_at, r.run_id)),
                                   (r.checked_at, r.run_id))
    expected = Counter(r.table_name for r in checks if r.run_id == latest[r.table_name][1])
    mart = {r.entity: r.quality_checks for r in spark.sql(
        f"select entity, quality_checks from {config.db('marts')}.mart_data_quality_weekly "
        f"where iso_week_label = '{week}'").collect()}
    assert sum(expected.values()) > 100
    assert {e: n for e, n in mart.items() if n} == dict(expected)


@pytest.fixture(scope="module")
def ui(chain, config):
    """The Airflow API server (UI) on the chain's metadata DB, on 127.0.0.1, stopped by PID."""
    import socket

    from lanhai import airflow_env

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    airflow_env.up(config, port, home=chain["home"], services=("api-server",))
    password = airflow_env.admin_password(config, chain["home"])
    yield f"http://127.0.0.1:{port}", password
    stopped = airflow_env.down(config, home=chain["home"])
    assert stopped, "the API server was not running at the end"


def test_the_ui_refuses_anonymous_users(ui):
    import urllib.error
    import urllib.request

    url, _ = ui
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{url}/api/v2/dags", timeout=30)
    assert err.value.code in (401, 403)


def test_after_login_the_ui_lists_the_dags_and_shows_a_successful_run(ui, tmp_path):
    import re
    import shutil

    from playwright.sync_api import sync_playwright

    url, password = ui
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{url}/dags")
        page.wait_for_load_state("networkidle")
        assert "/auth/login" in page.url, "the UI showed DAGs without a login"
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", "wrong-password")
        page.locator("button[type=submit]").click()
        page.wait_for_timeout(1500)
        assert "/auth/login" in page.url
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", password)
        page.locator("button[type=submit]").click()
        # the login redirects (to the page asked for): wait for that navigation to finish
        # before navigating again, or Chromium aborts one of the two
        page.wait_for_url(lambda u: "/auth/login" not in u, timeout=60_000)
        page.wait_for_load_state("networkidle")
        if not page.url.rstrip("/").endswith("/dags"):
            page.goto(f"{url}/dags")
        page.wait_for_selector("text=lanhai_transform", timeout=60_000)
        listed = set(re.findall(r"lanhai_\w+", page.inner_text("body")))
        assert {"lanhai_ingest_user", "lanhai_quality", "lanhai_transform"} <= listed
        page.goto(f"{url}/dags/lanhai_quality/runs")
        page.wait_for_selector("text=Success", timeout=60_000)
        page.screenshot(path=str(tmp_path / "runs.png"))
        browser.close()


def test_repeated_failed_logins_are_throttled(ui):
    """After five wrong passwords from one address (the login test above made one), its logins
    are refused with 429, the right password included (lanhai/login_throttle.py)."""
    import json
    import urllib.error
    import urllib.request

    url, password = ui

    def login(secret: str) -> int:
        body = json.dumps({"username": "admin", "password": secret}).encode()
        request = urllib.request.Request(f"{url}/auth/token", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code

    codes = [login("wrong-password") for _ in range(6)]
    assert codes[-1] == 429 and 401 in codes, codes
    assert codes.index(429) <= 5 and set(codes[codes.index(429):]) == {429}, codes
    assert login(password) == 429


def test_a_critical_defect_stops_the_gate_dag_and_the_transform_is_not_triggered(chain, spark,
                                                                                config):
    """A day whose orders vanished from silver (a lost file): the quality DAG fails on the
    volume rule for silver.orders and emits no `quality.silver_validated` event, so the
    transform, scheduled on that asset, is not triggered, and the marts keep their versions.
    Then the runbook's fix: silver is restored (Delta RESTORE), the quality DAG is run again,
    passes and emits the event (which also leaves the latest gate verdict a pass for the
    tests that read it)."""
    import os

    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    from lanhai.config import PROJECT_ROOT

    orders = config.table("silver", "orders")
    before = spark.sql(f"describe history {orders} limit 1").first().version
    marts = {t: spark.sql(f"describe history {config.db('marts')}.{t} limit 1").first().version
             for t in ("mart_weekly_review", "kpi_gmv_weekly")}

    def validated_events() -> int:
        with create_session() as session:
            asset = session.query(AssetModel).filter(
                AssetModel.uri == "lanhai://quality/silver_validated").one()
            return session.query(AssetEvent).filter(AssetEvent.asset_id == asset.id).count()

    def run_quality():
        bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))  # parsed with retries 0
        run = bag.get_dag("lanhai_quality").test(run_conf={
            "interval_start": str(end - timedelta(days=20)), "interval_end": str(end)})
        return run, {ti.task_id: str(ti.state) for ti in run.get_task_instances()}

    events = validated_events()
    end = chain["end"]
    day = end - timedelta(days=4)
    began = spark.sql("select current_timestamp()").first()[0]
    spark.sql(f"delete from {orders} where to_date(coalesce(paid_at, created_at)) = "
              f"date '{day}'")
    retries = os.environ.get("LANHAI_TASK_RETRIES")
    os.environ["LANHAI_TASK_RETRIES"] = "0"
    try:
        try:
            failed_run, states = run_quality()
        finally:
            spark.sql(f"restore table {orders} to version as of {before}")
        after_failure = validated_events()
        passed_run, passed_states = run_quality()
    finally:
        if retries is None:
            os.environ.pop("LANHAI_TASK_RETRIES")
        else:
            os.environ["LANHAI_TASK_RETRIES"] = retries
    assert str(failed_run.state) == "failed" and "failed" in states.values(), states
    failed = spark.sql(
        f"select table_name, rule, unexpected_count from "
        f"{config.table('audit', 'quality_results')} where not success and severity = "
        f"'critical' and checked_at >= '{began}'").collect()
    assert any(r.table_name == "orders" and "daily order volume" in r.rule for r in failed), \
        failed
    assert after_failure == events, "the gate's failure still validated silver"
    for t, v in marts.items():
        assert spark.sql(f"describe history {config.db('marts')}.{t} limit 1").first().version \
            == v, f"{t} changed"
    assert str(passed_run.state) == "success", passed_states
    assert validated_events() == events + 1
