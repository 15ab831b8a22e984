"""The jobs' commit points, named, so that a crash can be made at each one on purpose.

A job calls `reached(point, entity)` right after each Delta commit it makes. Nothing happens
unless a crash was asked for:

- `LANHAI_CRASH_AT=<point>` or `<point>:<entity>` in the environment: the process kills
  itself with SIGKILL there (the Spark driver's JVM dies with it), the way an out-of-memory
  kill or a lost machine would stop it. For trials from a shell:
  `LANHAI_CRASH_AT=silver.merged:orders lanhai ingest`, then `lanhai ingest` again.
- `on_reached(hook)`: a function called at every point (tests raise from it to stop a run
  in their own process; what is on disk is the same as after a kill).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

POINTS = (
    "bronze.appended",          # a micro-batch appended to bronze
    "silver.quarantined",       # its bad rows appended to quarantine.records
    "silver.late_references",   # its unresolved references appended to audit
    "silver.items_inserted",    # orders only: new orders' lines appended to silver.order_items
    "silver.items_merged",      # orders only: updated orders' lines MERGEd into it
    "silver.inserted",          # new keys appended to the silver table
    "silver.merged",            # newer versions MERGEd into it
    "silver.history",           # new versions into silver.<entity>_history
    "silver.audited",           # its row accounting appended to audit.ingest_runs
    "rotation.rekeyed",         # one table's tokens re-keyed (entity: the table)
    "erasure.scrubbed",         # one table's rows of a person deleted or anonymised
)

_hooks: list[Callable[[str, str], None]] = []


def reached(point: str, entity: str) -> None:
    """Mark that the commit `point` of `entity` is done; crash here if asked to."""
    wanted = os.environ.get("LANHAI_CRASH_AT")
    if wanted and wanted in (point, f"{point}:{entity}"):
        os.kill(os.getpid(), signal.SIGKILL)
    for hook in list(_hooks):
        hook(point, entity)


def on_reached(hook: Callable[[str, str], None]) -> Callable[[], None]:
    """Call `hook(point, entity)` at every commit point; return a function that removes it."""
    _hooks.append(hook)
    return lambda: _hooks.remove(hook)
