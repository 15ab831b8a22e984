"""lanhai.pipeline: the stages, their order and what stops them, written once for the DAGs,
`lanhai demo --direct` and the benchmarks."""

from __future__ import annotations

from datetime import date

import pytest
import typer

from lanhai import pipeline
from lanhai.config import load_config


def test_the_stages_run_in_order_ingest_gate_transform_report():
    assert [s.name for s in pipeline.STAGES] == ["ingest", "gate", "transform", "report"]
    assert set(pipeline.RUNNERS) == {s.name for s in pipeline.STAGES}


def test_the_airflow_chain_is_the_stages_dags_in_the_same_order():
    from lanhai.airflow_env import chain

    dags = chain()
    assert dags == pipeline.dag_chain()
    assert sorted(dags[:7]) == sorted(f"lanhai_ingest_{d}" for d in
                                      ("user", "product", "transaction", "logistics",
                                       "marketing", "fx", "growth"))
    assert dags[7:] == ["lanhai_quality", "lanhai_transform", "lanhai_weekly_review"]


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def runner(name, fail=False):
        def run(config, start, end, say):
            seen.append(name)
            say(f"{name} ran")
            if fail:
                raise pipeline.StageFailed(f"{name} failed")
            return {"ok": name}
        return run

    monkeypatch.setattr(pipeline, "RUNNERS", {s.name: runner(s.name) for s in pipeline.STAGES})
    return seen, runner, monkeypatch


def test_run_calls_every_stage_in_order_and_times_it(calls):
    seen, _, _ = calls
    said = []
    out = pipeline.run(load_config("test"), date(2025, 1, 1), date(2025, 1, 7),
                       progress=said.append)
    assert seen == ["ingest", "gate", "transform", "report"]
    assert list(out) == seen and all("seconds" in r for r in out.values())
    assert said[0].startswith("ingest: ") and "gate ran" in said


def test_a_failed_stage_stops_the_stages_after_it(calls):
    """A critical quality failure must stop the marts: the direct path once skipped the gate."""
    seen, runner, monkeypatch = calls
    monkeypatch.setitem(pipeline.RUNNERS, "gate", runner("gate", fail=True))
    with pytest.raises(pipeline.StageFailed, match="gate failed"):
        pipeline.run(load_config("test"), date(2025, 1, 1), date(2025, 1, 7))
    assert seen == ["ingest", "gate"]


def test_stages_can_be_chosen_and_unknown_ones_are_refused(calls):
    seen, _, _ = calls
    pipeline.run(load_config("test"), date(2025, 1, 1), date(2025, 1, 7),
                 stages=["report", "transform"])
    assert seen == ["transform", "report"]
    with pytest.raises(ValueError, match="unknown stage"):
        pipeline.run(load_config("test"), date(2025, 1, 1), date(2025, 1, 7), stages=["dbt"])


def test_the_cli_direct_demo_runs_the_pipeline(monkeypatch):
    from lanhai import cli

    ran = {}

    def fake_run(config, start, end, stages=None, progress=None):
        ran["interval"] = (start, end)
        raise pipeline.StageFailed("gate: stop here")

    monkeypatch.setattr(pipeline, "run", fake_run)
    with pytest.raises(typer.Exit):
        cli._demo_chain(load_config("test"), date(2025, 1, 1), date(2025, 1, 7), True, "test",
                        0.0)
    assert ran["interval"] == (date(2025, 1, 1), date(2025, 1, 7))
