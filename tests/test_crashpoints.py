"""The named commit points: a crash asked for by name kills the process there, and nowhere else
(tests/reliability/test_crash_windows.py stops runs at each point through `on_reached`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from lanhai.crashpoints import POINTS, on_reached, reached

SCRIPT = ("from lanhai.crashpoints import reached\n"
          "reached('silver.quarantined', 'orders')\n"
          "print('past quarantined', flush=True)\n"
          "reached('silver.merged', 'orders')\n"
          "print('past merged', flush=True)\n")


@pytest.mark.parametrize(("wanted", "printed", "code"), [
    ("silver.merged", "past quarantined\n", -signal.SIGKILL),
    ("silver.merged:orders", "past quarantined\n", -signal.SIGKILL),
    ("silver.merged:users", "past quarantined\npast merged\n", 0),
    ("", "past quarantined\npast merged\n", 0),
])
def test_a_crash_asked_for_kills_the_process_at_that_point_only(wanted, printed, code):
    env = {**os.environ, "LANHAI_CRASH_AT": wanted}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, check=False,
                          text=True, timeout=60)
    assert (done.stdout, done.returncode) == (printed, code)


def test_a_hook_sees_every_point_until_removed():
    seen = []
    remove = on_reached(lambda point, entity: seen.append((point, entity)))
    for point in POINTS:
        reached(point, "orders")
    remove()
    reached("silver.merged", "orders")
    assert seen == [(p, "orders") for p in POINTS]
