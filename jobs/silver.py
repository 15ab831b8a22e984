"""Bronze -> silver: typed by the contract, bad rows quarantined with their rule, deduplicated
to the latest version per business key, written to Delta (new keys appended, newer versions
MERGEd), and conformed to CNY.

Each entity streams its bronze table's new rows (`availableNow`, checkpointed). Per micro-batch:
1. rules, in contract order: malformed, missing_required, type_mismatch, unknown_enum,
   out_of_range; a failing row goes to `quarantine.records` with the rule, field, file, line,
   key and its masked raw text;
2. versions: of the rows with one key, the greatest `version` wins; a repeat of a (key,
   version) already seen (earlier file or line, already in silver, or an older version sent
   again after a newer one arrived: found in bronze) is a duplicate; an older version is
   superseded; a record with the key and version of an earlier one (in the batch, or in
   silver) but other content is a `conflict`: quarantined, the first one kept (the contract
   fields decide; for orders, not the items, which silver keeps in order_items);
3. a key silver does not hold yet is appended; a newer version of one it holds is MERGEd on
   the key (only newer versions update);
4. entities with `history: true` also keep every version in `silver.<entity>_history`;
5. references that are not there yet are flagged in `audit.late_references`, not quarantined;
6. the row accounting goes to `audit.ingest_runs`: landed = inserted + updated + superseded +
   duplicates + quarantined, where inserted and updated are Delta's own metrics of those
   commits (rows appended; rows the MERGE inserted and updated).

Orders also give `order_items` (from the order's items) and carry the FX rate of their paid
date (the latest rate on or before it, CNY per unit), so that line GMV is in CNY in silver.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, Row, SparkSession, Window
from pyspark.sql import functions as F

from lanhai.config import Config
from lanhai.conflicts import retry_on_conflict
from lanhai.contracts import Contract, Field
from lanhai.crashpoints import reached
from lanhai.jobs.bronze import _app_id, ordered_contracts, run_available_now
from lanhai.landed import ensure_logs
from lanhai.pii import mask_col
from lanhai.quality import QUALITY_RESULTS_COLUMNS
from lanhai.spark import adopt_orphan, ddl_of, ensure_table, has_data

LINEAGE = ["_source_file", "_line", "_rescued_data"]
AUDIT_COLUMNS = ("run_id string, layer string, entity string, batch_id long, started_at "
                 "timestamp, finished_at timestamp, files long, landed long, inserted long, "
                 "updated long, superseded long, duplicates long, quarantined long, "
                 "late_references long")
QUARANTINE_COLUMNS = ("entity string, rule string, field string, source_file string, line long, "
                      "record_key string, raw string, bronze_batch_id long, run_id string, "
                      "quarantined_at timestamp")
USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
LATE_REF_COLUMNS = ("entity string, record_key string, reference string, value string, "
                    "run_id string, flagged_at timestamp")


# --- pure transforms -----------------------------------------------------------------------
EARLIEST = "2000-01-01"  # the earliest plausible business date or time of a record


def _text(col: Column) -> Column:
    return col.cast("string")


def _blank(col: Column) -> Column:
    return col.isNull() | (F.trim(_text(col)) == "")


def _cast(col: Column, type_: str) -> Column:
    return col.try_cast(type_) if type_ != "string" else col


def _items_schema(c: Contract) -> str:
    return "array<struct<" + ", ".join(f"{f.name}: string" for f in c.item_fields) + ">>"


def _field_checks(f: Field, col: Column, prefix: str = "") -> dict[str, Column]:
    """Return rule -> condition for one scalar field (True = the rule is broken)."""
    checks = {}
    if f.required:
        checks["missing_required"] = _blank(col)
    if f.type != "string":
        checks["type_mismatch"] = ~_blank(col) & _cast(col, f.type).isNull()
    if f.enum:
        checks["unknown_enum"] = ~_blank(col) & ~_text(col).isin(list(f.enum))
    typed = _cast(col, f.type)
    low, high = (F.lit(f.min) if f.min is not None else None,
                 F.lit(f.max) if f.max is not None else None)
    if f.type in ("timestamp", "date"):
        # A date from year 1 or 9999 would win every later version as a record's version,
        # and breaks Arrow readers: outside [EARLIEST, tomorrow] a date is out of range.
        low = F.lit(EARLIEST).cast(f.type) if low is None else low
        high = F.date_add(F.current_date(), 1).cast(f.type) if high is None else high
    conds = [c for c in (typed < low if low is not None else None,
                         typed > high if high is not None else None) if c is not None]
    if conds:
        checks["out_of_range"] = conds[0] if len(conds) == 1 else conds[0] | conds[1]
    return checks


def check_rules(df: DataFrame, c: Contract) -> DataFrame:
    """Add `_rule` and `_rule_field`: the first rule a row breaks, in the contract's order."""
    by_rule: dict[str, list[tuple[str, Column]]] = {r: [] for r in (
        "malformed", "missing_required", "type_mismatch", "unknown_enum", "out_of_range")}
    by_rule["malformed"].append(("", F.col("_parse_error").isNotNull()))
    nested = c.nested
    if nested is not None:
        parsed = F.from_json(F.col(nested.name), _items_schema(c))
        df = df.withColumn("_items_text", parsed)
    for f in c.fields:
        if f.is_nested:
            items = F.col("_items_text")
            by_rule["missing_required"].append(
                (f.name, _blank(F.col(f.name)) | (F.size(items) < 1)))
            for rule in ("missing_required", "type_mismatch", "unknown_enum", "out_of_range"):
                cond = F.exists(items, _item_rule(c.item_fields, rule))
                if rule == "type_mismatch":
                    cond = cond | (~_blank(F.col(f.name)) & items.isNull())
                by_rule[rule].append((f.name, F.coalesce(cond, F.lit(False))))
            continue
        for rule, cond in _field_checks(f, F.col(f.name)).items():
            by_rule[rule].append((f.name, F.coalesce(cond, F.lit(False))))
    first = F.coalesce(*[
        F.when(cond, F.struct(F.lit(rule).alias("rule"), F.lit(name or None).cast("string")
                              .alias("field")))
        for rule, items in by_rule.items() for name, cond in items
    ])
    return df.withColumn("_r", first).select(
        "*", F.col("_r.rule").alias("_rule"), F.col("_r.field").alias("_rule_field")
    ).drop("_r")


def _item_rule(fields: tuple[Field, ...], rule: str) -> Callable[[Column], Column]:
    """Return a one-argument lambda for `exists`: does an item break `rule`?"""

    def broken(item: Column) -> Column:
        conds = [_field_checks(f, item[f.name]).get(rule) for f in fields]
        conds = [x for x in conds if x is not None]
        return _any(conds) if conds else F.lit(False)

    return broken


def _key_json(c: Contract) -> Column:
    """Return the record's business key as a JSON object of strings, a missing part as null
    (a feed whose key has several fields can lose one: the quarantine names the rest)."""
    return F.to_json(F.struct(*[F.col(k).cast("string").alias(k) for k in c.key]),
                     {"ignoreNullFields": "false"})


def _any(conds: list[Column]) -> Column:
    out = conds[0]
    for cnd in conds[1:]:
        out = out | cnd
    return out


def typed(df: DataFrame, c: Contract) -> DataFrame:
    """Cast every contract field to its type (rows that break no rule cast cleanly)."""
    cols = []
    for f in c.fields:
        if f.is_nested:
            continue
        cols.append(_cast(F.col(f.name), f.type).alias(f.name))
    extra = ["_items_text"] if c.nested is not None else []
    return df.select(*cols, *extra, *LINEAGE, "_batch_id", "_run_id")


def content(c: Contract, columns: list[str]) -> Column:
    """A typed record's contract fields (nested items aside; those in `columns`) as one struct:
    two copies of a (key, version) whose contents differ are a conflict, not a duplicate.
    (Structs compare field by field, a null equal to a null; no hashing on every row.)"""
    return F.struct(*[f.name for f in c.fields if not f.is_nested and f.name in columns])


def classify_versions(df: DataFrame, c: Contract) -> DataFrame:
    """Add `_outcome`: `winner` (latest version of its key in the batch), `duplicate` (a repeat
    of a key and version already seen at an earlier file or line), `conflict` (such a repeat
    with other content) or `superseded`."""
    key = list(c.key)
    first_seen = Window.partitionBy(*key, c.version).orderBy("_source_file", "_line")
    per_key = Window.partitionBy(*key)
    own = content(c, df.columns)
    return (
        df.withColumn("_copy", F.row_number().over(first_seen))
        .withColumn("_first_content", F.first(own).over(first_seen))
        .withColumn("_latest", F.max(c.version).over(per_key))
        .withColumn("_outcome", F.when((F.col("_copy") > 1)
                                       & ~own.eqNullSafe(F.col("_first_content")), "conflict")
                    .when(F.col("_copy") > 1, "duplicate")
                    .when(F.col(c.version) < F.col("_latest"), "superseded")
                    .otherwise("winner"))
        .drop("_copy", "_latest", "_first_content")
    )


def against_target(winners: DataFrame, target: DataFrame, c: Contract) -> DataFrame:
    """Set `_outcome` of batch winners against silver: insert, update, duplicate (the version
    silver has, same content), conflict (the version silver has, other content), superseded."""
    t = target.select(*c.key, F.col(c.version).alias("_target_version"),
                      content(c, target.columns).alias("_target_content"))
    return winners.join(t, list(c.key), "left").withColumn(
        "_outcome",
        F.when(F.col("_target_version").isNull(), "insert")
        .when(F.col(c.version) > F.col("_target_version"), "update")
        .when((F.col(c.version) == F.col("_target_version"))
              & ~content(c, target.columns).eqNullSafe(F.col("_target_content")), "conflict")
        .when(F.col(c.version) == F.col("_target_version"), "duplicate")
        .otherwise("superseded"),
    ).drop("_target_version", "_target_content")


def repeats_of_seen(stale: DataFrame, bronze: DataFrame, c: Contract) -> DataFrame:
    """Return the rows of `stale` (older versions: older than another row of their batch, or
    than silver's) whose key and version an earlier clean bronze row already carried: a record
    sent again after a newer version of it arrived is a duplicate, not a superseded version.
    Earlier: an earlier bronze batch, or the same one at an earlier file or line."""
    keys = [*c.key, c.version]
    prior = bronze.where(F.col("_parse_error").isNull()).select(
        *[_cast(F.col(k), c.field(k).type).alias(k) for k in keys],
        F.col("_batch_id").alias("_p_batch"), F.struct("_source_file", "_line").alias("_p_at"))
    s, p = stale.alias("s"), prior.alias("p")
    cond = [F.col(f"s.{k}") == F.col(f"p.{k}") for k in keys]
    cond.append((F.col("p._p_batch") < F.col("s._batch_id"))
                | ((F.col("p._p_batch") == F.col("s._batch_id"))
                   & (F.col("p._p_at") < F.struct("s._source_file", "s._line"))))
    return s.join(p, cond, "left_semi")


def fx_daily(rates: DataFrame, until: Column | str) -> DataFrame:
    """Return one rate per currency and calendar day: the latest published on or before it."""
    bounds = rates.groupBy("currency").agg(F.min("rate_date").alias("lo"),
                                           F.max("rate_date").alias("hi"))
    days = bounds.select("currency", F.explode(F.sequence(
        "lo", F.greatest("hi", F.lit(until).cast("date")))).alias("fx_date"))
    joined = days.join(rates.withColumnRenamed("rate_date", "fx_date"), ["currency", "fx_date"],
                       "left").withColumn("rate_date", F.when(F.col("cny_per_unit").isNotNull(),
                                                              F.col("fx_date")))
    w = Window.partitionBy("currency").orderBy("fx_date").rowsBetween(
        Window.unboundedPreceding, 0)
    return joined.select(
        "currency", "fx_date",
        F.last("cny_per_unit", ignorenulls=True).over(w).alias("fx_rate_to_cny"),
        F.last("rate_date", ignorenulls=True).over(w).alias("fx_rate_date"),
    )


def conform_orders(orders: DataFrame, fx: DataFrame) -> DataFrame:
    """Add the order's FX rate: CNY per unit on its paid date (created date while unpaid)."""
    day = F.to_date(F.coalesce("paid_at", "created_at"))
    return orders.withColumn("fx_date", day).join(
        F.broadcast(fx), ["currency", "fx_date"], "left"
    ).withColumn(
        "fx_rate_to_cny", F.when(F.col("currency") == "CNY", F.lit(1).cast("decimal(18,6)"))
        .otherwise(F.col("fx_rate_to_cny").cast("decimal(18,6)"))
    ).withColumn(
        "fx_rate_date", F.when(F.col("currency") == "CNY", F.col("fx_date"))
        .otherwise(F.col("fx_rate_date"))
    ).drop("fx_date")


def order_items(orders: DataFrame, c: Contract) -> DataFrame:
    """Explode each order's items, typed, with line amounts in the order's currency and CNY.

    line GMV = round((qty x unit_price - discount) x rate, 2), half-up (Spark's decimal round).
    """
    item = F.explode("_items_text").alias("it")
    rows = orders.select("order_id", "currency", "fx_rate_to_cny", "updated_at",
                         "_source_file", "_line", item)
    cols = [_cast(F.col("it")[f.name], f.type).alias(f.name) for f in c.item_fields]
    out = rows.select("order_id", *cols, "currency", "fx_rate_to_cny",
                      F.col("updated_at").alias("order_updated_at"), "_source_file", "_line")
    amount = (F.col("qty") * F.col("unit_price") - F.col("discount")).cast("decimal(18,2)")
    return out.withColumn("line_amount", amount).withColumn(
        "line_gmv_cny", F.round(amount * F.col("fx_rate_to_cny"), 2).cast("decimal(18,2)"))


def quarantine_rows(bad: DataFrame, c: Contract) -> DataFrame:
    """Shape rule-breaking rows for the quarantine table (raw text masked)."""
    # (rows that reach quarantine after typing have no nested text field: the rest is their raw)
    raw = F.coalesce(F.col("_raw"), F.to_json(F.struct(*[F.col(n) for n in c.names
                                                         if n in bad.columns])))
    key = _key_json(c)
    return bad.select(
        F.lit(c.entity).alias("entity"), F.col("_rule").alias("rule"),
        F.col("_rule_field").alias("field"), F.col("_source_file").alias("source_file"),
        F.col("_line").alias("line"), key.alias("record_key"), mask_col(raw).alias("raw"),
        F.col("_batch_id").alias("bronze_batch_id"),
    )


# --- the job -------------------------------------------------------------------------------
def _ensure_table(spark: SparkSession, name: str, ddl: str) -> None:
    ensure_table(spark, name, ddl)


def _upsert(spark: SparkSession, table: str, inserts: DataFrame, updates: DataFrame,
            keys: list[str], version: str, tag: str, app_id: str, batch_id: int,
            counts: tuple[int, int], done: dict[str, Row], replay: bool,
            point: str, entity: str) -> dict[str, int]:
    """Write a micro-batch's new keys and newer versions to a silver table; return what was
    inserted and updated.

    Rows classified `insert` (a key silver did not have) are appended: no join with the table,
    the engine's own write speed, and idempotent by Delta's (txnAppId, txnVersion). The
    `update`s are MERGEd (`_merge`); `point` is the commit point between the two. Both
    commits carry `tag`; `done` holds the commits of this batch a crashed run had already
    made (by operation: WRITE, MERGE), whose own metrics are counted and which are not made
    again."""
    n_inserts, n_updates = counts
    inserted = updated = 0
    if n_inserts:
        if "WRITE" in done:
            inserted = int(done["WRITE"]["operationMetrics"]["numOutputRows"])
        else:
            if not spark.catalog.tableExists(table):
                _ensure_table(spark, table, ddl_of(inserts))
            before = _version(spark, table) if replay else None
            (inserts.write.format("delta").mode("append").option("txnAppId", app_id)
             .option("txnVersion", batch_id).option("userMetadata", tag).saveAsTable(table))
            # Delta's own count of the rows appended (so that the audit's identity stays a
            # check); none when Delta skipped the append as one it had seen (a replayed batch
            # whose crashed run made it, its commit not among the ones `done` looked at)
            wrote = tagged_commits(spark, table, tag).get("WRITE")
            inserted = (int(wrote["operationMetrics"]["numOutputRows"])
                        if wrote is not None and (before is None or wrote["version"] > before)
                        else 0)
        reached(point, entity)
    if n_updates:
        m = _merge(spark, table, updates, keys, version, tag, done.get("MERGE"))
        inserted += m["inserted"]
        updated = m["updated"]
    return {"inserted": inserted, "updated": updated}


def _version(spark: SparkSession, table: str) -> int:
    return DeltaTable.forName(spark, table).history(1).first()["version"]


def _merge(spark: SparkSession, table: str, source: DataFrame, keys: list[str],
           version: str, tag: str, done: Row | None = None) -> dict[str, int]:
    """MERGE newer versions into a silver table; return Delta's own insert/update metrics.

    Idempotent (a row is updated only by a newer version), so a MERGE that conflicts with
    another writer's commit is run again on the new snapshot (lanhai.conflicts). A row whose
    key is gone by then (an erasure) is inserted. The commit carries `tag` (the micro-batch)
    as its user metadata; `done` is that commit when a crash came after it, and then its own
    metrics are returned and nothing is merged again."""
    if done is not None:
        m = done["operationMetrics"]
        return {"inserted": int(m["numTargetRowsInserted"]),
                "updated": int(m["numTargetRowsUpdated"])}
    if not spark.catalog.tableExists(table):
        _ensure_table(spark, table, ddl_of(source))
    cond = " and ".join(f"t.`{k}` = s.`{k}`" for k in keys)

    def merge():
        return (DeltaTable.forName(spark, table).alias("t").merge(source.alias("s"), cond)
                .whenMatchedUpdateAll(condition=f"s.`{version}` > t.`{version}`")
                .whenNotMatchedInsertAll()
                .execute().first())

    # the metrics of this MERGE (not the table's latest commit, which may be another writer's)
    spark.conf.set(USER_METADATA, tag)
    try:
        metrics = retry_on_conflict(merge, table=table)
    finally:
        spark.conf.unset(USER_METADATA)
    return {"inserted": int(metrics["num_inserted_rows"]),
            "updated": int(metrics["num_updated_rows"])}


def tagged_commits(spark: SparkSession, table: str, tag: str) -> dict[str, Row]:
    """The commits of `table` that carry `tag`, among its last few, by operation."""
    if not spark.catalog.tableExists(table):
        return {}
    found = (DeltaTable.forName(spark, table).history(20)
             .where(F.col("userMetadata") == tag)
             .select("version", "operation", "operationMetrics").collect())
    return {r["operation"]: r for r in reversed(found)}  # the latest of each operation


def tagged_commit(spark: SparkSession, table: str, tag: str) -> Row | None:
    """The latest commit of `table` that carries `tag`, among its last few, if there is one."""
    found = tagged_commits(spark, table, tag)
    return max(found.values(), key=lambda r: r["version"]) if found else None


def _references(c: Contract) -> list[tuple[str, str, str]]:
    out = []
    for f in c.fields:
        if f.references and not f.is_nested:
            entity, field = f.references.split(".")
            out.append((f.name, entity, field))
    return out


def references_of(c: Contract) -> set[str]:
    """The entities whose silver tables a batch of `c` reads: the ones its fields reference
    (flagged while not in silver yet), and the FX rates that conform an order to CNY."""
    return {entity for _, entity, _ in _references(c)} | (
        {"fx_rates"} if c.entity == "orders" else set())


def run(spark: SparkSession, config: Config, entities: list[str] | None = None,
        run_id: str | None = None,
        on_batch: Callable[[str, int, dict], None] | None = None) -> list[dict]:
    """Process every new bronze row of each entity into silver; return per-entity accounting."""
    run_id = run_id or uuid.uuid4().hex[:12]
    prepare(spark, config)
    return [run_entity(spark, config, c, run_id, on_batch)
            for c in ordered_contracts(entities)]


def prepare(spark: SparkSession, config: Config) -> None:
    """The run logs every entity's batches append to, created once before any entity runs."""
    _ensure_table(spark, config.table("audit", "ingest_runs"), AUDIT_COLUMNS)
    _ensure_table(spark, config.table("quarantine", "records"), QUARANTINE_COLUMNS)
    _ensure_table(spark, config.table("audit", "late_references"), LATE_REF_COLUMNS)
    _ensure_table(spark, config.table("audit", "quality_results"), QUALITY_RESULTS_COLUMNS)
    ensure_logs(spark, config)  # the freshness logs (lanhai.landed), which dbt's sources read


def run_entity(spark: SparkSession, config: Config, c: Contract, run_id: str,
               on_batch: Callable[[str, int, dict], None] | None = None) -> dict:
    """Process every new bronze row of one entity into silver (after `prepare`, and after the
    entities it references: `references_of`); return its accounting."""
    audit = config.table("audit", "ingest_runs")
    bronze = config.table("bronze", c.entity)
    if not spark.catalog.tableExists(bronze):
        return {"entity": c.entity, "landed": 0, "skipped": "no bronze table"}
    checkpoint = config.path("checkpoints") / "silver" / c.entity
    app_id = _app_id(checkpoint, f"silver-{c.entity}")
    totals = {k: 0 for k in ("landed", "inserted", "updated", "superseded", "duplicates",
                             "quarantined", "late_references")}
    first = [True]

    def process(batch: DataFrame, batch_id: int) -> None:
        started = time.time()
        # only a run's first micro-batch can be one that a crashed run began
        replay, first[0] = first[0], False
        stats = _process_batch(spark, config, c, batch, batch_id, run_id, app_id(), replay)
        for k in totals:
            totals[k] += stats[k]
        audit_row = spark.createDataFrame([(
            run_id, "silver", c.entity, batch_id, None, None, stats["files"],
            stats["landed"], stats["inserted"], stats["updated"], stats["superseded"],
            stats["duplicates"], stats["quarantined"], stats["late_references"],
        )], AUDIT_COLUMNS).withColumn("started_at", F.lit(started).cast("timestamp")) \
            .withColumn("finished_at", F.current_timestamp())
        (audit_row.write.format("delta").mode("append")
         .option("txnAppId", app_id() + "-audit").option("txnVersion", batch_id)
         .saveAsTable(audit))
        reached("silver.audited", c.entity)
        if on_batch:
            on_batch(c.entity, batch_id, stats)

    existed = spark.catalog.tableExists(config.table("silver", c.entity))
    # Bronze is append-only but for an erasure (lanhai.erasure), whose rewrite of rows
    # silver has seen and erases itself: such commits are skipped, not read as new rows.
    stream = (spark.readStream.format("delta").option("maxFilesPerTrigger", 200)
              .option("skipChangeCommits", "true").table(bronze))
    run_available_now(stream, f"silver_{c.entity}", checkpoint, process)
    result = {"entity": c.entity, **totals}
    if not spark.catalog.tableExists(config.table("silver", c.entity)):
        # nothing landed yet (a feed that has sent no record): an empty batch through the
        # same steps creates the entity's tables, empty, so that the marts build empty
        _process_batch(spark, config, c, spark.table(bronze).where("false"), -1, run_id,
                       "empty")
    if not existed and not totals["landed"]:
        result["created_empty"] = True
    return result


def _process_batch(spark: SparkSession, config: Config, c: Contract, batch: DataFrame,
                   batch_id: int, run_id: str, app_id: str,
                   replay: bool = False) -> dict[str, int]:
    """Classify every row of a micro-batch once, count all outcomes in one pass, then write.

    Every write is idempotent per micro-batch: appends by Delta's (txnAppId, txnVersion), and
    the MERGEs by the tag they carry (the appends to silver carry it too). When a crashed run
    had already written this batch to silver (`replay`, and commits with its tag are found),
    the batch is classified against silver as it was before the first of them, those commits
    are not made again and their own metrics are counted, so the accounting and the history
    are those of a run that never crashed."""
    table = config.table("silver", c.entity)
    tag = f"{app_id}:{batch_id}"
    # a folder the catalog lost in a crash holds rows: adopted before the batch is classified,
    # so that its keys are updates, not new keys appended a second time
    for name in (table, config.table("silver", "order_items") if c.entity == "orders" else None,
                 config.table("silver", f"{c.entity}_history") if c.history else None):
        if name:
            adopt_orphan(spark, name)
    done = tagged_commits(spark, table, tag) if replay else {}
    if done:  # silver as it was before the crashed run's first write of this batch
        first = min(r["version"] for r in done.values())
        target = spark.sql(f"select * from {table} version as of {first - 1}")
    else:
        target = spark.table(table) if spark.catalog.tableExists(table) else None
    checked = check_rules(batch, c).persist()
    bad = checked.where(F.col("_rule").isNotNull())
    good = classify_versions(typed(checked.where(F.col("_rule").isNull()), c), c).persist()
    losers = good.where("_outcome <> 'winner'")
    winners = good.where("_outcome = 'winner'")
    winners = (against_target(winners, target, c) if target is not None
               else winners.withColumn("_outcome", F.lit("insert")))
    winners = _flag_references(spark, config, c, winners)
    if c.entity == "orders":
        winners = conform_orders(winners, _fx(spark, config))
    winners = winners.persist()
    # each outcome's rows and the files they came from, in one job (the batch's files are the
    # union: a distinct count of them was a job of its own per micro-batch)
    counted = (F.count(F.lit(1)).alias("count"), F.collect_set("_source_file").alias("files"))
    outcome_counts = (
        winners.groupBy("_outcome", (F.size("_missing_refs") > 0).alias("late")).agg(*counted)
        .union(losers.groupBy("_outcome", F.lit(False).alias("late")).agg(*counted))
        .union(bad.groupBy(F.lit("quarantined").alias("_outcome"), F.lit(False).alias("late"))
               .agg(*counted))
        .collect()
    )
    counts: dict[str, int] = {}
    late = stale = 0
    for r in outcome_counts:
        counts[r["_outcome"]] = counts.get(r["_outcome"], 0) + r["count"]
        if r["late"] and r["_outcome"] in ("insert", "update"):
            late += r["count"]
        if r["_outcome"] == "superseded":
            stale += r["count"]
    # An older version: one never seen, or a repeat of one an earlier micro-batch saw (none
    # did when silver did not exist yet: a copy within this batch is already a duplicate).
    if stale and target is not None:
        at = [*c.key, c.version, "_batch_id", "_source_file", "_line"]
        older = (losers.where("_outcome = 'superseded'").select(*at)
                 .union(winners.where("_outcome = 'superseded'").select(*at)))
        repeats = repeats_of_seen(older, spark.table(config.table("bronze", c.entity)), c).count()
        counts["superseded"] -= repeats
        counts["duplicate"] = counts.get("duplicate", 0) + repeats
    files = len(set().union(*(r["files"] for r in outcome_counts)))
    stats = {
        "landed": sum(counts.values()), "files": files,
        "quarantined": counts.get("quarantined", 0),
        "duplicates": counts.get("duplicate", 0),
        "superseded": counts.get("superseded", 0),
        "late_references": late, "inserted": 0, "updated": 0,
    }
    conflicts = counts.get("conflict", 0)
    stats["quarantined"] += conflicts
    if stats["quarantined"]:
        to_quarantine = bad
        if conflicts:
            conflicting = (losers.where("_outcome = 'conflict'")
                           .unionByName(winners.where("_outcome = 'conflict'")
                                        .drop("_missing_refs"), allowMissingColumns=True))
            to_quarantine = quarantine_rows(bad, c).unionByName(quarantine_rows(
                conflicting.withColumns({
                    "_rule": F.lit("conflict"), "_rule_field": F.lit(c.version),
                    "_raw": F.concat(F.lit("same key and version as an earlier record, other "
                                           "content: "),
                                     F.to_json(F.struct(*[f.name for f in c.fields
                                                          if not f.is_nested])))}), c))
        else:
            to_quarantine = quarantine_rows(bad, c)
        (to_quarantine
         .withColumns({"run_id": F.lit(run_id), "quarantined_at": F.current_timestamp()})
         .write.format("delta").mode("append").option("txnAppId", app_id + "-quarantine")
         .option("txnVersion", batch_id).saveAsTable(config.table("quarantine", "records")))
        reached("silver.quarantined", c.entity)
    to_write = winners.where("_outcome in ('insert', 'update')").withColumn(
        "_silver_loaded_at", F.current_timestamp())
    new, newer = (to_write.where(f"_outcome = '{o}'").drop("_outcome", "_missing_refs")
                  for o in ("insert", "update"))
    n = (counts.get("insert", 0), counts.get("update", 0))
    items_table = config.table("silver", "order_items")
    new_items = newer_items = None
    if c.entity == "orders":
        new_items, newer_items = (order_items(df, c).withColumn("_silver_loaded_at",
                                                                F.current_timestamp())
                                  for df in (new, newer))
        new, newer = new.drop("_items_text"), newer.drop("_items_text")
    if sum(n):
        if late:
            (to_write.where(F.size("_missing_refs") > 0)
             .select(F.lit(c.entity).alias("entity"), _key_json(c).alias("record_key"),
                     F.explode("_missing_refs").alias("ref"))
             .select("entity", "record_key", F.col("ref.reference").alias("reference"),
                     F.col("ref.value").alias("value"), F.lit(run_id).alias("run_id"),
                     F.current_timestamp().alias("flagged_at"))
             .write.format("delta").mode("append").option("txnAppId", app_id + "-refs")
             .option("txnVersion", batch_id).saveAsTable(config.table("audit",
                                                                       "late_references")))
            reached("silver.late_references", c.entity)
        if new_items is not None:
            # Order lines are classified by their order, in silver.orders: appended only into
            # a table with no line yet (a first load); after that merged by (order, line), so
            # that the two tables restored to different versions never hold a line twice
            done_items = tagged_commits(spark, items_table, tag) if replay else {}
            if has_data(spark, items_table) and "WRITE" not in done_items:
                _merge(spark, items_table, new_items.unionByName(newer_items),
                       ["order_id", "line_no"], "order_updated_at", tag, done_items.get("MERGE"))
            else:
                _upsert(spark, items_table, new_items, newer_items, ["order_id", "line_no"],
                        "order_updated_at", tag, app_id, batch_id, n, done_items, replay,
                        "silver.items_inserted", c.entity)
            reached("silver.items_merged", c.entity)
        stats.update(_upsert(spark, table, new, newer, list(c.key), c.version, tag, app_id,
                             batch_id, n, done, replay, "silver.inserted", c.entity))
        reached("silver.merged", c.entity)
    history = config.table("silver", f"{c.entity}_history") if c.history else None
    if history and counts.get("insert", 0) + counts.get("update", 0) + stats["superseded"]:
        _keep_versions(spark, history, good, c, app_id, batch_id)
        reached("silver.history", c.entity)
    for name, df in ((table, new), (items_table, new_items),
                     (history, _history_rows(good) if history else None)):
        if df is not None and not spark.catalog.tableExists(name):
            _ensure_table(spark, name, ddl_of(df))  # nothing new to write: empty
    for df in (winners, good, checked):
        df.unpersist()
    return stats


def _keep_versions(spark: SparkSession, table: str, good: DataFrame, c: Contract,
                   app_id: str, batch_id: int) -> None:
    """Insert every new (key, version) of a batch into the entity's history table.

    Superseded versions are history too (a registration and a move in one catch-up batch), so
    the SCD2 dimensions built from this table do not depend on how often the job ran.
    """
    rows = _history_rows(good)
    if not has_data(spark, table):
        # the first versions: appended (a batch holds each key and version once, its copies
        # being duplicates), idempotent by (txnAppId, txnVersion); after that, a MERGE that
        # inserts the versions the table does not have
        if not spark.catalog.tableExists(table):
            _ensure_table(spark, table, ddl_of(rows))
        (rows.write.format("delta").mode("append").option("txnAppId", f"{app_id}-history")
         .option("txnVersion", batch_id).saveAsTable(table))
        return
    keys = [*c.key, c.version]
    cond = " and ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    retry_on_conflict(lambda: DeltaTable.forName(spark, table).alias("t")
                      .merge(rows.alias("s"), cond).whenNotMatchedInsertAll().execute(),
                      table=table)


def _history_rows(good: DataFrame) -> DataFrame:
    return (good.where("_outcome not in ('duplicate', 'conflict')")
            .drop("_outcome", "_items_text")
            .withColumn("_silver_loaded_at", F.current_timestamp()))


def _fx(spark: SparkSession, config: Config) -> DataFrame:
    fx_table = config.table("silver", "fx_rates")
    if spark.catalog.tableExists(fx_table):
        return F.broadcast(fx_daily(spark.table(fx_table), F.current_date()))
    return spark.createDataFrame([], "currency string, fx_date date, "
                                     "fx_rate_to_cny decimal(18,6), fx_rate_date date")


def _flag_references(spark: SparkSession, config: Config, c: Contract,
                     rows: DataFrame) -> DataFrame:
    """Add `_missing_refs`: the references of a row that are not in silver (yet)."""
    columns = rows.columns  # kept in this order (a join moves its key to the front)
    flags = []
    for name, entity, field in _references(c):
        ref_table = config.table("silver", entity)
        flag = f"_known_{name}"
        if spark.catalog.tableExists(ref_table):
            known = spark.table(ref_table).select(F.col(field).alias(name)).distinct() \
                .withColumn(flag, F.lit(True))
            rows = rows.join(F.broadcast(known), name, "left")
        else:
            rows = rows.withColumn(flag, F.lit(None).cast("boolean"))
        flags.append(F.when(F.col(flag).isNull() & F.col(name).isNotNull(), F.struct(
            F.lit(f"{entity}.{field}").alias("reference"), F.col(name).alias("value"))))
    missing = F.filter(F.array(*flags), lambda x: x.isNotNull()) if flags else F.array().cast(
        "array<struct<reference: string, value: string>>")
    return rows.select(*columns, missing.alias("_missing_refs"))


def _drop_with_folder(spark: SparkSession, table: str) -> None:
    """Drop a table and delete its folder: a table adopted after a crash is registered over
    its location (lanhai.spark.adopt_orphan), and dropping it alone would leave its rows to be
    adopted again by the next write."""
    adopt_orphan(spark, table)
    if not spark.catalog.tableExists(table):
        return
    location = spark.sql(f"describe detail {table}").first()["location"]
    spark.sql(f"drop table {table}")
    folder = spark._jvm.org.apache.hadoop.fs.Path(location)
    fs = folder.getFileSystem(spark._jsc.hadoopConfiguration())
    if fs.exists(folder):
        fs.delete(folder, True)


def replay(spark: SparkSession, config: Config, entities: list[str] | None = None,
           run_id: str | None = None) -> list[dict]:
    """Rebuild silver from bronze for some entities (all when none are named): after a bad
    silver write that RESTORE cannot undo, or a change of silver's rules.

    The entity's silver tables (with `<entity>_history`, and `order_items` for orders), its
    quarantined records, its late references and its silver accounting rows are removed, its
    checkpoint reset, and the entity's whole bronze table runs through silver again. Bronze
    keeps every record as landed, so nothing is lost; a replay from the landing zone is bronze's
    own reset (its checkpoint and table) followed by this."""
    import shutil

    done = []
    for c in ordered_contracts(entities):
        tables = [config.table("silver", c.entity)]
        if c.history:
            tables.append(config.table("silver", f"{c.entity}_history"))
        if c.entity == "orders":
            tables.append(config.table("silver", "order_items"))
        for table in tables:
            _drop_with_folder(spark, table)
        for table, where in ((config.table("quarantine", "records"), ""),
                             (config.table("audit", "late_references"), ""),
                             (config.table("audit", "ingest_runs"), " and layer = 'silver'")):
            if spark.catalog.tableExists(table):
                spark.sql(f"delete from {table} where entity = '{c.entity}'{where}")
        shutil.rmtree(config.path("checkpoints") / "silver" / c.entity, ignore_errors=True)
        done.append(c.entity)
    return run(spark, config, done, run_id)
