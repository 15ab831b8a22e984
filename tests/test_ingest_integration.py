"""The small lake, built once (tests/conftest.py): accounting, quarantine, duplicates, drift,
idempotence, late files and PII, each checked against the simulator's manifest."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter

import pytest
from pyspark.sql import functions as F

from lanhai.contracts import contracts

pytestmark = pytest.mark.integration


def _silver_audit(spark, config):
    cols = ("landed", "inserted", "updated", "superseded", "duplicates", "quarantined")
    sums = ", ".join(f"sum({c}) as {c}" for c in cols)
    return {r.entity: r.asDict() for r in spark.sql(
        f"select entity, {sums} from {config.table('audit', 'ingest_runs')} "
        "where layer = 'silver' group by entity").collect()}


def test_row_accounting_holds_for_every_table(small_lake, spark, config):
    audit = _silver_audit(spark, config)
    assert set(audit) == set(contracts())
    for entity, a in audit.items():
        bronze_rows = spark.table(config.table("bronze", entity)).count()
        silver_rows = spark.table(config.table("silver", entity)).count()
        assert a["landed"] == bronze_rows, entity
        assert a["landed"] == (a["inserted"] + a["updated"] + a["superseded"]
                               + a["duplicates"] + a["quarantined"]), entity
        assert a["inserted"] == silver_rows, entity


def test_history_tables_keep_every_accepted_version(small_lake, spark, config):
    """users/merchants/skus/categories_history hold each clean (key, version) exactly once:
    landed records less the injected defects and duplicates, whatever the batching was."""
    manifest = small_lake["manifest"]
    defects = Counter(d["entity"] for d in manifest["defects"])
    dups = Counter(d["entity"] for d in manifest["duplicates"])
    for entity, c in contracts().items():
        if not c.history:
            continue
        history = spark.table(config.table("silver", f"{entity}_history"))
        want = manifest["records"][entity] - defects[entity] - dups[entity]
        assert history.count() == want, entity
        assert history.select(*c.key, c.version).distinct().count() == want, entity
        latest = history.groupBy(*c.key).agg(F.max(c.version).alias(c.version))
        silver = spark.table(config.table("silver", entity)).select(*c.key, c.version)
        assert latest.exceptAll(silver).count() == 0, entity
        assert silver.exceptAll(latest).count() == 0, entity


def test_bronze_holds_every_landed_record(small_lake, spark, config):
    manifest = small_lake["manifest"]
    for entity, n in manifest["records"].items():
        assert spark.table(config.table("bronze", entity)).count() == n, entity


def test_quarantine_is_exactly_the_injected_defects(small_lake, spark, config):
    expected = Counter((d["entity"], d["file"], d["line"], d["rule"])
                       for d in small_lake["manifest"]["defects"])
    got = Counter(tuple(r) for r in spark.table(config.table("quarantine", "records")).select(
        "entity", "source_file", "line", "rule").collect())
    assert got == expected
    assert len(expected) > 50


def test_quarantine_rows_name_field_and_key_and_hold_no_pii(small_lake, spark, config):
    by_place = {(d["file"], d["line"]): d for d in small_lake["manifest"]["defects"]}
    for r in spark.table(config.table("quarantine", "records")).collect():
        d = by_place[(r.source_file, r.line)]
        assert r.field == d["field"]
        if d["rule"] != "malformed":
            assert json.loads(r.record_key) == d["key"]
        assert not re.search(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])", r.raw)


def test_duplicates_dropped_are_the_listed_ones(small_lake, spark, config):
    manifest = small_lake["manifest"]
    audit = _silver_audit(spark, config)
    listed = Counter(d["entity"] for d in manifest["duplicates"])
    for entity in contracts():
        assert audit[entity]["duplicates"] == listed.get(entity, 0), entity
    # and the (key, version) pairs that repeat in bronze are exactly the listed ones
    for entity, c in contracts().items():
        if entity not in listed:
            continue
        bronze = spark.table(config.table("bronze", entity)).where("_parse_error is null")
        keys = [F.col(k).cast("string") for k in c.key]
        version = F.col(c.version)
        if dict(bronze.dtypes)[c.version] != "string":  # Parquet: typed as landed
            version = F.date_format(version, "yyyy-MM-dd'T'HH:mm:ssXXX")
        repeated = bronze.groupBy(*keys, version.alias("v")).count() \
            .where("count > 1").collect()
        got = {(tuple(r[:len(c.key)]), r["v"]) for r in repeated}
        want = {(tuple(d["key"][k] for k in c.key), d["version"])
                for d in manifest["duplicates"] if d["entity"] == entity}
        assert got == want, entity


def test_schema_drift_file_is_read_by_name_and_extra_column_kept(small_lake, spark, config):
    drift = small_lake["manifest"]["schema_drift"][0]
    path = config.landing / drift["file"]
    with path.open(encoding="utf-8") as fh:
        landed = list(csv.DictReader(fh))
    bronze = {r.user_id: r for r in spark.table(config.table("bronze", "users"))
              .where(F.col("_source_file") == drift["file"]).collect()}
    assert len(bronze) == len(landed)
    for rec in landed:
        row = bronze[rec["user_id"]]
        assert row.birth_year == rec["birth_year"] and row.city == rec["city"]
        assert row.updated_at == rec["updated_at"]
        rescued = json.loads(row._rescued_data)
        assert set(rescued) == {"wechat_id"}
    silver = spark.table(config.table("silver", "users"))
    assert silver.where(F.col("_source_file") == drift["file"]).count() > 0
    assert spark.table(config.table("quarantine", "records")).where(
        F.col("source_file") == drift["file"]).count() == 0


def test_a_second_and_a_third_run_change_nothing(small_lake):
    """Ingest run three times over the same landing zone (the chain's, then two more): every
    table's rows, Delta version and files stay as they were, and nothing is counted again."""
    first, second = small_lake["snapshots"][0], small_lake["snapshots"][1]
    assert first == second == small_lake["third_snapshot"]
    for run in (small_lake["rerun"], small_lake["third_run"]):
        assert all(r.get("landed", 0) == 0 for r in run["silver"])
        assert all(r.get("rows", 0) == 0 for r in run["bronze"])


def test_late_files_are_picked_up_by_the_next_run(small_lake, spark, config):
    late = [f for f in small_lake["manifest"]["late_files"]
            if f["file"] in small_lake["held_back"]]
    assert late
    before, after = small_lake["snapshots"][1], small_lake["snapshots"][2]
    for f in late:
        bronze = config.table("bronze", f["entity"])
        assert spark.table(bronze).where(F.col("_source_file") == f["file"]).count() > 0
        assert after[bronze]["rows"] > before[bronze]["rows"]


def test_orders_of_users_landing_a_day_late_are_kept(small_lake, spark, config):
    late_users = {r["key"] for r in small_lake["manifest"]["late_references"]}
    assert late_users
    orders = spark.table(config.table("silver", "orders")).where(
        F.col("user_id").isin(list(late_users))).count()
    assert orders > 0


def test_references_not_in_silver_yet_are_flagged(small_lake, spark, config):
    from lanhai.contracts import contract
    from lanhai.jobs.silver import _flag_references

    known_user = spark.table(config.table("silver", "users")).first().user_id
    known_merchant = spark.table(config.table("silver", "merchants")).first().merchant_id
    rows = spark.createDataFrame(
        [("O1", known_user, known_merchant), ("O2", "U_NOT_YET", known_merchant),
         ("O3", "U_NOT_YET", "M_NOT_YET")],
        "order_id string, user_id string, merchant_id string")
    got = {r.order_id: sorted((m.reference, m.value) for m in r._missing_refs)
           for r in _flag_references(spark, config, contract("orders"), rows).collect()}
    assert got == {
        "O1": [],
        "O2": [("users.user_id", "U_NOT_YET")],
        "O3": [("merchants.merchant_id", "M_NOT_YET"), ("users.user_id", "U_NOT_YET")],
    }


def test_the_late_run_loaded_entities_at_once_each_silver_after_what_it_references(
        small_lake, spark, config):
    """The run that took the held-back day loaded `ingest.threads` entities at once
    (jobs/ingest.py `load`): two entities' silver batches overlap in time; and no entity's
    silver batch began before the batches of the entities it references (those before it in
    landing order) had ended."""
    from lanhai.contracts import contract
    from lanhai.jobs.bronze import ordered_contracts
    from lanhai.jobs.silver import references_of

    order = [c.entity for c in ordered_contracts()]

    assert int(config.raw["ingest"]["threads"]) > 1
    batches = {r.entity: (r.started_at, r.finished_at) for r in spark.sql(
        f"select entity, min(started_at) as started_at, max(finished_at) as finished_at "
        f"from {config.table('audit', 'ingest_runs')} where layer = 'silver' "
        f"and run_id = '{small_lake['late_run']['run_id']}' group by entity").collect()}
    assert len(batches) > 5, batches
    overlapping = [(a, b) for a in batches for b in batches if a < b
                   and batches[a][0] < batches[b][1] and batches[b][0] < batches[a][1]]
    assert overlapping, f"no two silver loads ran at once: {batches}"
    for entity, (started, _) in batches.items():
        for ref in references_of(contract(entity)) & batches.keys():
            if order.index(ref) < order.index(entity):
                assert started >= batches[ref][1], f"{entity} began before {ref} ended"


def test_each_commit_tag_names_its_own_tables_load(small_lake, config):
    """Loads run at once, each in a session of its own: a MERGE's commit tag (a session
    setting, the key of a crashed batch's replay) lands on that load's own tables only, and
    every write and MERGE of a silver entity table carries its load's tag (a shared session's
    `unset` by another load would drop it). Read from every table's commit files (bronze,
    silver, audit, quarantine)."""
    seen = 0
    for layer in ("bronze", "silver", "audit", "quarantine"):
        for log in sorted((config.lake / f"{config.db(layer)}.db").glob("*/_delta_log")):
            table = log.parent.name
            owner = {"order_items": "orders"}.get(table, table.removesuffix("_history"))
            for commit in sorted(log.glob("*.json")):
                for line in commit.read_text(encoding="utf-8").splitlines():
                    info = json.loads(line).get("commitInfo")
                    tag = (info or {}).get("userMetadata")
                    if (layer == "silver" and not table.endswith("_history") and info
                            and info["operation"] in ("WRITE", "MERGE")):
                        assert tag and tag.startswith(f"silver-{owner}-"), (
                            f"silver.{table} {commit.name}: {info['operation']} tagged {tag}")
                    if tag:
                        seen += 1
                        assert layer == "silver" and tag.startswith(f"silver-{owner}-"), (
                            f"{layer}.{table} {commit.name}: {info['operation']} tagged {tag}")
    assert seen > 20


def test_retention_deletes_only_old_files_that_bronze_has(small_lake, spark, config, tmp_path):
    """On a copy of one entity's landing folder, so the session's landing zone stays whole."""
    import os
    import shutil
    from dataclasses import replace

    from lanhai.jobs.ingest import apply_retention

    landing = tmp_path / "landing"
    shutil.copytree(config.landing / "marketing" / "spend", landing / "marketing" / "spend")
    spend_files = sorted((landing / "marketing" / "spend").rglob("*.csv"))
    taken, fresh = spend_files[0], spend_files[1]
    stranger = taken.parent / "part-99999.csv"  # landed, never ingested
    stranger.write_text(taken.read_text(encoding="utf-8"), encoding="utf-8")
    old = 10 * 86_400
    now = taken.stat().st_mtime + old
    os.utime(taken, (now - old, now - old))
    os.utime(stranger, (now - old, now - old))
    os.utime(fresh, (now, now))
    copy = replace(config, paths={**config.paths, "landing": landing})
    keep_all = apply_retention(copy, now=now)
    assert keep_all == {"retention_days": 0, "deleted": 0}
    result = apply_retention(replace(copy, raw={**config.raw, "landing": {"retention_days": 5}}),
                             now=now)
    assert result["deleted"] >= 1
    assert not taken.exists()
    assert stranger.exists() and fresh.exists()
    assert (config.landing / taken.relative_to(landing)).exists()
