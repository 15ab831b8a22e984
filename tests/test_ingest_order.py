"""The order an ingest run loads its entities in (jobs/ingest.py `run_in_order`, `load`): at
most `threads` loads at once, each after the loads it waits for, and a failed load stops only
the ones that wait for it. Fakes that sleep stand in for the Spark loads."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from lanhai.jobs.ingest import run_in_order


class Recorder:
    def __init__(self, fail=(), sleep=0.05):
        self.fail, self.sleep = set(fail), sleep
        self.lock = threading.Lock()
        self.started, self.finished = {}, {}
        self.running = self.most = 0

    def __call__(self, key):
        with self.lock:
            self.started[key] = time.perf_counter()
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.sleep)
        with self.lock:
            self.running -= 1
            self.finished[key] = time.perf_counter()
        if key in self.fail:
            raise OSError(f"{key} broke")
        return f"{key} done"


# bronze of each, silver after its own bronze and the silver it references (as `load` builds)
WAITS = {
    ("bronze", "users"): set(), ("bronze", "skus"): set(), ("bronze", "orders"): set(),
    ("bronze", "fx_rates"): set(), ("bronze", "spend"): set(),
    ("silver", "users"): {("bronze", "users")},
    ("silver", "skus"): {("bronze", "skus")},
    ("silver", "fx_rates"): {("bronze", "fx_rates")},
    ("silver", "orders"): {("bronze", "orders"), ("silver", "users"), ("silver", "skus"),
                           ("silver", "fx_rates")},
    ("silver", "refunds"): {("silver", "orders")},
    ("silver", "spend"): {("bronze", "spend")},
}


def test_loads_run_at_once_up_to_the_threads_and_each_after_what_it_waits_for():
    run = Recorder(sleep=0.2)
    results, seconds = run_in_order(WAITS, run, threads=3)
    assert results == {k: f"{k} done" for k in WAITS}
    assert set(seconds) == set(WAITS) and all(s >= 0.2 for s in seconds.values())
    assert run.most == 3  # never more than the threads, and that many at once
    for key, waits in WAITS.items():
        for w in waits:
            assert run.started[key] >= run.finished[w], f"{key} started before {w} finished"


def test_one_thread_runs_them_one_after_another_in_priority_order():
    run = Recorder(sleep=0.01)
    order = ["users", "skus", "fx_rates", "orders", "refunds", "spend"]
    run_in_order(WAITS, run, threads=1, priority=lambda k: (order.index(k[1]), k[0]))
    assert run.most == 1
    started = sorted(run.started, key=run.started.get)
    # the lowest priority among the ready ones first: bronze users, silver users, bronze skus..
    assert started[:4] == [("bronze", "users"), ("silver", "users"), ("bronze", "skus"),
                           ("silver", "skus")]


def test_a_failed_load_stops_only_what_waits_for_it_and_its_error_is_raised(caplog):
    run = Recorder(fail={("silver", "users")})
    with pytest.raises(OSError, match="silver', 'users'\\) broke"):
        run_in_order(WAITS, run, threads=2)
    # orders waits for users' silver, refunds for orders': neither ran; everything else did
    assert ("silver", "orders") not in run.started and ("silver", "refunds") not in run.started
    assert set(run.finished) == set(WAITS) - {("silver", "orders"), ("silver", "refunds")}
    logged = caplog.text
    assert "silver users failed: ('silver', 'users') broke" in logged
    assert "silver orders: not run, it waits for silver users, which did not finish" in logged
    assert "silver refunds: not run, it waits for silver orders, which did not finish" in logged


def test_waits_for_a_key_not_run_or_in_a_cycle_are_refused():
    run = Recorder()
    with pytest.raises(ValueError, match="not run"):
        run_in_order({"a": {"b"}}, run, threads=2)
    assert not run.started  # refused before anything ran
    with pytest.raises(ValueError, match="wait for each other"):
        run_in_order({"a": {"b"}, "b": {"a"}, "c": set()}, run, threads=2)
    assert list(run.started) == ["c"]  # the cycle is found once nothing else can run


def test_an_interrupt_stops_the_running_loads_starts_no_other_and_is_raised():
    """Ctrl-C (or a task's SIGTERM turned into an exception) while loads run: `stop` is called
    (the Spark queries' stop, in `load`), nothing else starts, the interrupt is raised."""
    ended = threading.Event()
    started = []

    def run(key):
        started.append(key)
        ended.wait(5)  # a streaming query, until stopped
        return key

    def interrupt(*_):
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    began = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_in_order({"a": set(), "b": set(), "c": {"a"}, "d": set()}, run, threads=2,
                         stop=ended.set)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
    assert sorted(started) == ["a", "b"]  # c and d never started
    assert ended.is_set() and time.perf_counter() - began < 4  # stopped, not waited out
