"""Run the chain through a running Airflow's scheduler (its REST API), the way a data engineer
would from the UI: unpause the chain's DAGs, trigger every domain's ingest over an interval,
let the assets schedule the quality gate and the transform, then trigger the weekly review.

Used by the cluster test and `make bench-chain` (profile `cluster`); `lanhai.airflow_env.
run_chain` is the in-process variant (`dag.test()`) that `make demo` uses on the embedded
profile.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from datetime import date, datetime


class SchedulerRunFailed(RuntimeError):
    """A DAG run of the chain failed, or did not finish in time."""


class AirflowApi:
    """Airflow 3's REST API as the admin user (bearer token from /auth/token)."""

    def __init__(self, url: str, password: str, user: str = "admin"):
        self.url = url.rstrip("/")
        body = json.dumps({"username": user, "password": password}).encode()
        req = urllib.request.Request(f"{self.url}/auth/token", body,
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            self.token = json.load(resp)["access_token"]

    def call(self, method: str, path: str, payload: dict | None = None) -> dict:
        req = urllib.request.Request(
            f"{self.url}/api/v2{path}", json.dumps(payload).encode() if payload else None,
            {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
            method=method)
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.load(resp)

    def dag_ids(self) -> set[str]:
        return {d["dag_id"] for d in self.call("GET", "/dags?limit=1000")["dags"]}

    def runs(self) -> list[dict]:
        return self.call("GET", "/dags/~/dagRuns?limit=1000")["dag_runs"]

    def task_instances(self) -> list[dict]:
        return self.call("GET", "/dags/~/dagRuns/~/taskInstances?limit=1000")["task_instances"]

    def trigger(self, dag_id: str, conf: dict) -> str:
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return run["dag_run_id"]


def when(value: str | None) -> float | None:
    """An API timestamp as seconds since the epoch."""
    return datetime.fromisoformat(value).timestamp() if value else None


def wait_for(api: AirflowApi, what: str, done: Callable[[], bool], timeout: float,
             every: float = 5) -> None:
    """Poll `done` until it holds; fail at once, naming the tasks, when a DAG run fails."""
    deadline = time.monotonic() + timeout
    while not done():
        failed = [r for r in api.runs() if r["state"] == "failed"]
        if failed:
            tasks = [(t["dag_id"], t["task_id"], t["state"]) for t in api.task_instances()
                     if t["state"] not in ("success", "skipped", None)]
            raise SchedulerRunFailed(f"while waiting for {what}: failed runs "
                                     f"{[(r['dag_id'], r['dag_run_id']) for r in failed]}; "
                                     f"tasks not successful: {tasks}")
        if time.monotonic() > deadline:
            raise SchedulerRunFailed(f"{what} not done within {timeout:.0f} s")
        time.sleep(every)


def succeeded(api: AirflowApi, dag_id: str) -> bool:
    return any(r["dag_id"] == dag_id and r["state"] == "success" for r in api.runs())


def run_chain(api: AirflowApi, start: date, end: date, week: str,
              during_transform: Callable[[], Callable[[], None]] | None = None,
              progress: Callable[[str], None] = lambda _: None,
              timeout: float = 3600) -> dict[str, float]:
    """The chain over [start, end] through the scheduler; returns each stage's seconds.

    Every stage is triggered here with the interval, each when the one before it succeeded:
    the callers run the scheduler with `use_job_schedule` off (no timetable runs of their
    own), and in Airflow 3 that also stops the asset-triggered runs (the scheduler creates
    both in one step), so the gate would never start on the ingests' assets.

    `during_transform`, if given, is called when the transform's run starts and returns a
    function called when it has finished (e.g. an analyst's reader running meanwhile)."""
    from lanhai.airflow_env import chain

    dags = chain()
    wait_for(api, "the DAG processor to parse dags/", lambda: set(dags) <= api.dag_ids(),
             300)
    for dag_id in dags:
        api.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})
    conf = {"interval_start": str(start), "interval_end": str(end)}
    began = time.monotonic()
    for dag_id in dags:
        if dag_id.startswith("lanhai_ingest_"):
            api.trigger(dag_id, conf)
    ingests = [d for d in dags if d.startswith("lanhai_ingest_")]
    progress(f"ingest: {len(ingests)} domains triggered")
    seconds = {}
    wait_for(api, "the ingests", lambda: all(succeeded(api, d) for d in ingests), timeout)
    api.trigger("lanhai_quality", conf)
    wait_for(api, "the quality gate", lambda: succeeded(api, "lanhai_quality"), timeout)
    api.trigger("lanhai_transform", conf)
    seconds["ingest_and_gate_s"] = round(time.monotonic() - began, 1)
    progress("the gate passed; transform started")
    finish = during_transform() if during_transform else None
    try:
        wait_for(api, "the transform", lambda: succeeded(api, "lanhai_transform"), timeout)
    finally:
        if finish:
            finish()
    seconds["transform_s"] = round(time.monotonic() - began - seconds["ingest_and_gate_s"], 1)
    progress("transform done; weekly review triggered")
    api.trigger("lanhai_weekly_review", {"week": week})
    wait_for(api, "the weekly review", lambda: succeeded(api, "lanhai_weekly_review"), timeout)
    seconds["total_s"] = round(time.monotonic() - began, 1)
    seconds["review_s"] = round(seconds["total_s"] - seconds["ingest_and_gate_s"]
                                - seconds["transform_s"], 1)
    return seconds
