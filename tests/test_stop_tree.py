"""Stopping a service stops what it started (lanhai.airflow_env.stop_tree): Airflow 3's
LocalExecutor runs each task in a process group of its own, and that task starts a Spark
driver; killing the scheduler's group alone left both running. Here a service (a group of its
own) starts a child that moves to another group and a grandchild in that group, as a task
runner and its Spark driver do: all three must be gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

SERVICE = """
import os, subprocess, sys, time
task = subprocess.Popen([sys.executable, "-c", '''
import os, subprocess, sys, time
os.setpgid(0, 0)  # as Airflow's supervisor puts a task runner in a group of its own
driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(os.getpid(), driver.pid, flush=True)
time.sleep(600)
'''], stdout=sys.stdout)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_stopping_a_service_stops_the_task_groups_it_started():
    from lanhai.airflow_env import stop_tree

    service = subprocess.Popen([sys.executable, "-c", SERVICE], stdout=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        task, driver = (int(p) for p in service.stdout.readline().split())
        assert os.getpgid(task) == task != service.pid
        assert os.getpgid(driver) == task
        assert stop_tree(service.pid, signal.SIGTERM, grace=10)
        service.wait(timeout=10)
        deadline = time.monotonic() + 10
        while (_alive(task) or _alive(driver)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(task) and not _alive(driver)
    finally:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGKILL)


# A service that, told to stop, starts one more task in a group of its own and exits: the task
# was not among its descendants when the stop began; it is in the service's session.
LATE = """
import os, signal, subprocess, sys, time
def stop(*_):
    task = subprocess.Popen([sys.executable, "-c",
                             "import os, time; os.setpgid(0, 0); time.sleep(600)"])
    print(task.pid, flush=True)
    time.sleep(0.5)
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
time.sleep(600)
"""


def test_a_task_started_while_the_service_stops_is_stopped_too():
    from lanhai.airflow_env import stop_tree

    service = subprocess.Popen([sys.executable, "-c", LATE], stdout=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        assert service.stdout.readline().strip() == "ready"
        assert stop_tree(service.pid, signal.SIGTERM, grace=10)
        late = int(service.stdout.readline())
        deadline = time.monotonic() + 10
        while _alive(late) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(late)
    finally:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGKILL)


def test_it_refuses_to_stop_its_caller(monkeypatch):
    import pytest

    from lanhai.airflow_env import stop_tree

    signalled = []  # a regression must fail this test, not signal the test run's own tree
    monkeypatch.setattr(os, "killpg", lambda pid, sig: signalled.append(pid))
    monkeypatch.setattr(os, "kill", lambda pid, sig: signalled.append(pid))
    for pid in (os.getpid(), os.getppid(), os.getpgid(0)):
        with pytest.raises(RuntimeError, match="refusing"):
            stop_tree(pid, signal.SIGTERM, grace=1)
    assert signalled == []


def test_a_service_already_gone_is_reported_as_not_running():
    from lanhai.airflow_env import stop_tree

    gone = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    gone.wait()
    assert not stop_tree(gone.pid, signal.SIGTERM, grace=1)
