"""Two writers MERGE into one Delta table at once (Delta's optimistic concurrency): the one that
commits second conflicts; with lanhai.conflicts it runs again on the new snapshot and both
changes land; without retries it fails with an error naming the table, and nothing of it is
committed. The table stays readable with a linear history either way.

The slow writer reads its snapshot, then waits inside its MERGE (a Python UDF on its source
that waits for a signal) until the fast one has committed: the conflict happens every time,
not by chance.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

# Two threads racing real Delta commits (tens of seconds on 2 cores): not the fast tier's
pytestmark = pytest.mark.integration


@pytest.fixture
def table(spark, config):
    name = f"{config.db('audit')}.conflict_probe"
    spark.sql(f"drop table if exists {name}")
    spark.createDataFrame([(i, 0) for i in range(1, 5)], "id int, v int").coalesce(1) \
        .write.format("delta").saveAsTable(name)
    yield name
    spark.sql(f"drop table if exists {name}")


def _merge(spark, table: str, rows: list[tuple[int, int]], gate: Path | None = None):
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    source = spark.createDataFrame(rows, "id int, v int")
    if gate is not None:
        started, go = str(gate / "started"), str(gate / "go")

        @F.udf("int")
        def when_signalled(v):
            import os
            import time

            open(started, "w").close()  # inside the MERGE: its snapshot is taken
            deadline = time.monotonic() + 120
            while not os.path.exists(go) and time.monotonic() < deadline:
                time.sleep(0.1)
            return v

        # one task waits (of local[2]'s two slots), so the other writer can run meanwhile
        source = source.coalesce(1).withColumn("v", when_signalled("v"))

    def write():
        return (DeltaTable.forName(spark, table).alias("t").merge(source.alias("s"), "t.id = s.id")
                .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute().first())

    return write


def _race(spark, table, attempts: int, gate: Path):
    """The slow writer starts first; the fast one commits while the slow one is inside its
    MERGE; then the slow one goes on to commit."""
    from lanhai.conflicts import retry_on_conflict

    retries, outcome = [], {}

    def slow():
        try:
            outcome["slow"] = retry_on_conflict(
                _merge(spark, table, [(1, 10), (5, 50)], gate), table=table,
                attempts=attempts, wait=0.1, on_retry=lambda n, err: retries.append(err))
        except Exception as err:  # noqa: BLE001 - the test looks at it
            outcome["slow"] = err

    thread = threading.Thread(target=slow)
    thread.start()
    deadline = time.monotonic() + 120
    while not (gate / "started").exists():
        assert time.monotonic() < deadline and thread.is_alive(), outcome
        time.sleep(0.1)
    outcome["fast"] = retry_on_conflict(_merge(spark, table, [(2, 20)]), table=table,
                                        attempts=1)
    (gate / "go").touch()
    thread.join(180)
    return outcome, retries


def test_a_conflicting_merge_is_retried_and_both_changes_land(spark, table, tmp_path):
    outcome, retries = _race(spark, table, attempts=4, gate=tmp_path)
    assert not isinstance(outcome["slow"], Exception), outcome["slow"]
    assert retries and type(retries[0]).__name__.startswith("Concurrent"), retries
    rows = dict(spark.table(table).collect())
    assert rows == {1: 10, 2: 20, 3: 0, 4: 0, 5: 50}
    ops = [r.operation for r in spark.sql(f"describe history {table}").collect()]
    assert ops.count("MERGE") == 2  # one commit each: the conflicted attempt left nothing


def test_without_retries_the_loser_fails_clearly_and_commits_nothing(spark, table, tmp_path):
    from lanhai.conflicts import WriteConflictError

    outcome, _ = _race(spark, table, attempts=1, gate=tmp_path)
    err = outcome["slow"]
    assert isinstance(err, WriteConflictError), err
    assert table in str(err) and "Concurrent" in str(err)
    assert dict(spark.table(table).collect()) == {1: 0, 2: 20, 3: 0, 4: 0}
    versions = [r.version for r in spark.sql(f"describe history {table}").collect()]
    assert sorted(versions) == list(range(len(versions)))  # linear, readable history
