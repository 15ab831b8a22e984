"""PIPL erasure (issue 16): after `erase_users`, nothing of the people remains anywhere.

Runs on the session's small lake, last of the suite (tests/conftest.py moves it there: it
changes the lake). The people chosen: the user with the most orders, a user one of whose
records was quarantined and a user an order named before their record arrived (when the lake
has them). Their id, their landed phone, ID-card number and e-mail address, and the tokens of
those, are looked for in every table of every schema (bronze to marts, quarantine, audit), in
every Parquet file under the lake (so in every Delta version, the vacuumed ones included), in
every `_delta_log` file, and in every other file under the data folder, the landing zone
included. The orders stay, under a surrogate: GMV and order counts of the marts are unchanged.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from lanhai.erasure import pattern
from lanhai.pii import token

pytestmark = pytest.mark.integration

# The simulator's own record of what it sent, and files the tests held back from landing: the
# source systems' side, not the lakehouse's (their erasure is the source's job).
NOT_OURS = ("simulator", "held_back")


def _pick(spark, config) -> list[str]:
    top = spark.sql(f"""
        select u.user_id, count(*) as n from {config.table('silver', 'users')} as u
        join {config.table('silver', 'orders')} as o on o.user_id = u.user_id
        group by u.user_id order by n desc, u.user_id limit 1""").first()["user_id"]
    ids = [top]
    quarantined = spark.sql(f"""
        select record_key from {config.table('quarantine', 'records')}
        where entity = 'users' and record_key like '%user_id%' order by record_key""").collect()
    for r in quarantined:
        uid = json.loads(r["record_key"]).get("user_id")
        if uid and re.fullmatch(r"U\d+", uid) and uid not in ids:
            ids.append(uid)
            break
    late = spark.sql(f"""
        select value from {config.table('audit', 'late_references')}
        where reference = 'users.user_id' order by value""").collect()
    for r in late:
        if r["value"] not in ids:
            ids.append(r["value"])
            break
    return ids


def _landed(config, ids: list[str]) -> set[str]:
    """The people's personal data as landed (phone, ID card, e-mail), from the users feed."""
    found = set()
    for path in (config.landing / "user" / "users").rglob("*.csv"):
        with path.open(encoding="utf-8", errors="replace") as fh:
            for rec in csv.DictReader(fh):
                if rec.get("user_id") in ids:
                    found.update(v for k in ("phone", "id_card_no", "email")
                                 if (v := rec.get(k)))
    return found


def _marts(spark, config) -> dict:
    row = spark.sql(f"select count(*) as n, sum(order_gmv_cny) as gmv "
                    f"from {config.table('marts', 'fct_orders')}").first()
    return {"orders": row["n"], "gmv": row["gmv"]}


@pytest.fixture(scope="module")
def erased(built, spark, config):
    from lanhai.erasure import erase_users
    from lanhai.jobs.ingest import run_job

    ids = _pick(spark, config)
    assert len(ids) >= 2, ids
    clear = _landed(config, ids)
    assert clear, "the people picked have personal data in the landing zone"
    key = config.pii_key
    secrets_ = {*ids, *clear, *(token(v, key) for v in clear)}
    before = _marts(spark, config)
    steps: list[str] = []
    result = erase_users(spark, config, ids, on_step=steps.append)
    after = _marts(spark, config)
    again = erase_users(spark, config, ids, rebuild=False)
    next_run = run_job("ingest", config)
    return {"ids": ids, "clear": clear, "secrets": secrets_, "result": result, "steps": steps,
            "before": before, "after": after, "again": again, "next_run": next_run}


def test_the_erasure_found_them_everywhere_they_were(erased):
    r = erased["result"]
    assert r.landing_files, "their landed records"
    names = {t.split(".")[1] for t in r.tables}
    assert {"users", "users_history", "orders"} <= names
    # a job's table beside dbt's marts (customer value's predictions): scrubbed, not rebuilt
    assert "clv_customers_weekly" in names
    assert r.tables["silver.users"]["deleted"] >= 1
    assert r.tables["silver.orders"]["anonymised"] >= 1
    assert r.models_rebuilt and set(r.vacuumed) >= set(r.tables)


def _needles(erased) -> str:
    """One Java regex for every trace of them: the ids as words, the values and tokens."""
    return "|".join([*(pattern(u) for u in erased["ids"]),
                     *(re.escape(v) for v in sorted(erased["secrets"] - set(erased["ids"])))])


def test_no_table_of_any_schema_names_them(erased, spark):
    """Every string and nested value of every row of every table and view, searched in Spark."""
    from concurrent.futures import ThreadPoolExecutor

    from pyspark.sql import functions as F

    needles = _needles(erased)
    names = [f"{db.name}.{t.name}" for db in spark.catalog.listDatabases()
             for t in spark.catalog.listTables(db.name) if not t.isTemporary]

    def search(name: str) -> list[tuple[str, str]] | None:
        df = spark.table(name)
        cols = [F.col(f"`{f.name}`") if f.dataType.simpleString() == "string" else
                F.to_json(F.col(f"`{f.name}`")) for f in df.schema.fields
                if f.dataType.simpleString() == "string"
                or f.dataType.typeName() in ("array", "struct", "map")]
        if not cols:
            return None
        hits = df.where(F.concat_ws("\u0001", *cols).rlike(needles)).limit(3).collect()
        return [(name, str(r.asDict())[:300]) for r in hits]

    with ThreadPoolExecutor(4) as pool:  # small jobs, mostly the driver's planning
        results = [r for r in pool.map(search, names) if r is not None]
    assert len(results) > 60  # tables and views scanned
    assert [hit for r in results for hit in r] == []


def _strings_of_parquet(path: Path) -> str:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return "\n".join(json.dumps(table.column(i).to_pylist(), default=str, ensure_ascii=False)
                     for i in range(table.num_columns))


def test_no_file_of_the_lake_names_them_in_any_version(erased, spark, config):
    """The data files of the tables' current versions are searched above; every other Parquet
    file under the lake (an earlier version's, which VACUUM should have removed) is read here,
    and every commit, checkpoint and checksum of every `_delta_log`."""
    words = re.compile("|".join(pattern(u) for u in erased["ids"]))
    current = set()
    for db in spark.catalog.listDatabases():
        for t in spark.catalog.listTables(db.name):
            if not t.isTemporary and t.tableType != "VIEW":
                current.update(Path(f.removeprefix("file:")).resolve()
                               for f in spark.table(f"{db.name}.{t.name}").inputFiles())
    found, older, logs = [], 0, 0
    for path in config.lake.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix == ".parquet":
            if path.resolve() in current:
                continue
            text = _strings_of_parquet(path)
            older += 1
        elif "_delta_log" in path.parts:
            text = path.read_bytes().decode("utf-8", errors="replace")
            logs += 1
        else:
            continue
        if words.search(text) or any(s in text for s in erased["secrets"]):
            found.append(str(path.relative_to(config.lake)))
    assert len(current) > 100 and logs > 100
    assert found == [], f"{len(found)} of {older} older data files and {logs} log files"


def _string_paths(fields: list[dict], prefix: tuple = ()) -> set[tuple]:
    """The paths of a Delta schema's string leaves (the stats nest by struct field)."""
    out = set()
    for f in fields:
        t = f["type"]
        if t == "string":
            out.add((*prefix, f["name"]))
        elif isinstance(t, dict) and t.get("type") == "struct":
            out |= _string_paths(t["fields"], (*prefix, f["name"]))
    return out


def _leaves(value, prefix: tuple = ()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*prefix, k))
    else:
        yield prefix, value


def test_no_commit_of_any_table_keeps_a_string_statistic(config):
    """Delta keeps each file's min and max per column in the commit that adds it, long after
    the file is gone: a string one would be somebody's id or token (for whichever person is a
    file's first or last). String statistics keep one character (lanhai.spark): a min of one
    character, a max of one and Delta's tie-breaker. (Dates and timestamps are written as text:
    not these.)"""
    kept, adds = [], 0
    for log_dir in config.lake.rglob("_delta_log"):
        strings: set[tuple] = set()
        for path in sorted(log_dir.glob("*.json")):  # in commit order: the latest schema wins
            for line in path.read_text(encoding="utf-8").splitlines():
                action = json.loads(line)
                if "metaData" in action:
                    strings = _string_paths(json.loads(action["metaData"]["schemaString"])
                                            ["fields"])
                add = action.get("add")
                if add and add.get("stats"):
                    adds += 1
                    stats = json.loads(add["stats"])
                    kept += [(log_dir.parent.name, p, v) for part in ("minValues", "maxValues")
                             for p, v in _leaves(stats.get(part, {}))
                             if p in strings and v and len(v) > 2]
    assert adds > 100
    assert kept[:5] == []


def test_no_other_file_names_them_landing_zone_included(erased, config):
    words = re.compile("|".join(pattern(u) for u in erased["ids"]).encode())
    secrets_ = [s.encode() for s in erased["secrets"]]
    skip = [config.data_dir / p for p in NOT_OURS] + [config.lake]
    found, scanned = [], 0
    for path in config.data_dir.rglob("*"):
        if (not path.is_file() or path.is_symlink() or path.suffix == ".parquet"
                or any(path.is_relative_to(s) for s in skip)):
            continue
        data = path.read_bytes()
        scanned += 1
        if words.search(data) or any(s in data for s in secrets_):
            found.append(str(path.relative_to(config.data_dir)))
    assert scanned > 500
    assert found == []


def test_their_orders_stay_in_the_marts_under_a_surrogate(erased):
    assert erased["after"]["orders"] == erased["before"]["orders"]
    assert erased["after"]["gmv"] == erased["before"]["gmv"]


def test_a_second_erasure_finds_nothing_and_the_next_ingest_runs(erased):
    assert not erased["again"].found
    silver = {r["entity"]: r for r in erased["next_run"]["silver"]}
    assert silver["users"]["landed"] == 0 and silver["orders"]["landed"] == 0


def test_the_erasure_is_recorded_without_the_ids(erased, spark, config):
    rows = spark.table(config.table("audit", "erasures")).collect()
    ours = [r for r in rows if r["request_id"] == erased["result"].request_id]
    assert len(ours) == 1 and ours[0]["users"] == len(erased["ids"])
    assert ours[0]["rows_deleted"] >= 2 and ours[0]["rows_anonymised"] >= 1
