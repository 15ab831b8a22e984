"""Landing -> bronze: every landed file once, as landed, with lineage; PII tokenised on the way.

Each entity is a Structured Streaming query over its landing folder with `availableNow` and a
checkpoint, so a file is ingested exactly once and a late file is picked up by the next run.
Bronze keeps every record as the source sent it (strings for text formats, Parquet's own
types), including the ones that cannot be parsed, which carry `_parse_error` and a masked
`_raw` copy so that silver can quarantine them with their file and line.

Schema drift policy: CSV columns and JSON fields are read by name, never by position. Fields
the contract does not know are kept in `_rescued_data` (a JSON object, PII patterns masked).
A CSV row whose field count differs from its header is `malformed`. A Parquet file whose
columns differ from the contract is quarantined whole (every row `malformed`).

Every landed file is ingested, quarantined or reported (`landing_inventory`): the extension is
matched in any case (`.JSON` is read); a name starting with `.` or `_` (Spark's hidden files:
uploads in progress, `_SUCCESS` markers) or with another extension is not read and is reported
as skipped, with why, on every run until it is renamed or removed; a symbolic link (to a file
or a folder) is never followed: the file is quarantined whole as `malformed` with the reason,
and nothing from outside the landing zone is read.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lanhai.config import Config
from lanhai.contracts import Contract, contracts
from lanhai.crashpoints import reached
from lanhai.landed import ensure_logs, record_landed_files
from lanhai.pii import Keys, mask_col, protect_col
from lanhai.spark import adopt_orphan, ddl_of, ensure_table, has_data

log = logging.getLogger(__name__)

MAX_CSV_FIELDS = 64
# Landing order: reference data first, so that silver resolves references where it can.
ENTITY_ORDER = ("categories", "warehouses", "fx_rates", "merchants", "users", "skus", "orders",
                "refunds", "shipments", "inventory", "spend")


def ordered_contracts(entities: list[str] | None = None) -> list[Contract]:
    """Return the contracts in landing order, optionally only some entities."""
    all_c = contracts()
    names = [e for e in ENTITY_ORDER if e in all_c] + sorted(set(all_c) - set(ENTITY_ORDER))
    if entities:
        unknown = set(entities) - set(all_c)
        if unknown:
            raise ValueError(f"unknown entities {sorted(unknown)}; known: {names}")
        names = [n for n in names if n in entities]
    return [all_c[n] for n in names]


# --- pure transforms -----------------------------------------------------------------------
def split_lines(files: DataFrame) -> DataFrame:
    """One row per file (`path`, `value`) -> one row per non-empty line with its line number."""
    exploded = files.select("path", F.posexplode(F.split("value", "\n")).alias("pos", "line"))
    line = F.regexp_replace("line", "\r$", "")
    # a UTF-8 byte-order mark opens some editors' files: it is not part of the first name
    line = F.when(F.col("pos") == 0, F.regexp_replace(line, "^\ufeff", "")).otherwise(line)
    return exploded.select(
        "path",
        (F.col("pos") + 1).alias("line_no"),
        line.alias("line"),
    ).where(F.col("line") != "")


def _csv_fields(line: Column) -> Column:
    """Return the fields of a CSV line as an array (quotes honoured) and their true count."""
    generic = ", ".join(f"c{i} string" for i in range(MAX_CSV_FIELDS))
    parsed = F.from_csv(line, generic, {"mode": "PERMISSIVE", "nullValue": "\u0000"})
    values = F.array(*[parsed[f"c{i}"] for i in range(MAX_CSV_FIELDS)])
    unquoted = F.regexp_replace(line, r'"([^"]|"")*"', "")
    count = F.size(F.split(unquoted, ",", -1))
    return F.struct(values.alias("values"), count.alias("n"))


def parse_csv(lines: DataFrame, known: list[str] | None = None) -> DataFrame:
    """Lines of CSV files -> one row per data line with a name->value map (by the header).

    A file whose header repeats a name, or (given the contract's names, `known`) names none of
    them (a file without a header), is malformed whole, its first line included: no record of
    it is lost, and it never stops the files around it."""
    with_fields = lines.withColumn("f", _csv_fields(F.col("line")))
    header = F.slice("f.values", 1, F.col("f.n"))
    repeated = (F.size(F.array_distinct(header)) < F.size(header),
                F.lit("malformed: the header repeats a column name"))
    if known:  # a file without a header: its first line names none of the contract's columns
        names = F.array(*[F.lit(n) for n in known])
        bad = F.when(F.size(F.array_intersect(header, names)) == 0,
                     F.lit("malformed: no header (the first line names none of the "
                           "contract's columns)")).when(*repeated)
    else:
        bad = F.when(*repeated)
    headers = with_fields.where("line_no = 1").select(
        "path", header.alias("header"), bad.alias("_bad_header"))
    data = with_fields.join(F.broadcast(headers), "path").where(
        (F.col("line_no") > 1) | F.col("_bad_header").isNotNull())
    n_header = F.size("header")
    values = F.transform(F.slice("f.values", 1, n_header),
                         lambda v: F.when(v == "", None).otherwise(v))
    ok = (F.col("f.n") == n_header) & F.col("_bad_header").isNull()
    return data.select(
        "path", "line_no", "line",
        F.when(ok, F.map_from_arrays("header", values)).alias("record"),
        F.coalesce("_bad_header", F.when(
            ~ok, F.concat(F.lit("malformed: "), F.col("f.n").cast("string"),
                          F.lit(" fields, header has "), n_header.cast("string"))))
        .alias("_parse_error"),
    )


def parse_jsonl(lines: DataFrame) -> DataFrame:
    """Lines of JSON-lines files -> one row per line with a name->text map of its fields."""
    record = F.from_json("line", "map<string,string>", {"mode": "PERMISSIVE"})
    return lines.select(
        "path", "line_no", "line", record.alias("record"),
    ).withColumn("_parse_error", F.when(F.col("record").isNull(),
                                        F.lit("malformed: not a JSON object")))


def shape_records(parsed: DataFrame, c: Contract, pii_key: Keys) -> DataFrame:
    """Map parsed records onto the contract's fields (as text), rescue unknown fields, tokenise
    PII and keep a masked raw copy of unparseable lines."""
    known = F.array(*[F.lit(n) for n in c.names])
    extra = F.map_filter("record", lambda k, _v: ~F.array_contains(known, k))
    cols = []
    for f in c.fields:
        cols.append(protect_col(F.col("record")[f.name], f.pii, pii_key).alias(f.name))
    return parsed.select(
        *cols,
        F.when(F.size(extra) > 0, mask_col(F.to_json(extra))).alias("_rescued_data"),
        "_parse_error",
        F.when(F.col("_parse_error").isNotNull(), mask_col(F.col("line"))).alias("_raw"),
        "path", "line_no",
    )


def local_path(uri: Column) -> Column:
    """A file's URI as Spark lists it (`file:/a%20b.csv`) as the name on disk (`file:/a b.csv`):
    percent-escapes decoded, and a `+` kept (url_decode alone would make it a space)."""
    return F.url_decode(F.replace(uri, F.lit("+"), F.lit("%2B")))


def add_lineage(df: DataFrame, landing_uri: str, batch_id: int, run_id: str) -> DataFrame:
    """Add the lineage columns: file (relative to landing, as named on disk), line, landing
    date, batch, time."""
    rel = F.regexp_replace(local_path(F.col("path")), "^" + landing_uri.rstrip("/") + "/", "")
    return df.select(
        *[c for c in df.columns if c not in ("path", "line_no")],
        rel.alias("_source_file"),
        F.col("line_no").cast("long").alias("_line"),
        F.to_date(F.regexp_extract("path", r"/dt=(\d{4}-\d{2}-\d{2})/", 1)).alias("_dt"),
        F.lit(batch_id).cast("long").alias("_batch_id"),
        F.lit(run_id).alias("_run_id"),
        F.current_timestamp().alias("_ingested_at"),
    )


# --- the job -------------------------------------------------------------------------------
def parquet_schema(c: Contract) -> T.StructType:
    return T.StructType([T.StructField(f.name, T._parse_datatype_string(f.type), True)
                         for f in c.fields])


def parquet_file_problems(paths: list[str], c: Contract) -> dict[str, str]:
    """Return the Parquet files whose columns differ from the contract, with the reason."""
    problems = {}
    for uri in paths:
        local = uri.removeprefix("file:")
        names = pq.read_schema(local).names
        missing = sorted(set(c.names) - set(names))
        extra = sorted(set(names) - set(c.names))
        if missing or extra:
            problems[uri] = f"malformed: file schema differs (missing {missing}, extra {extra})"
    return problems


def extension_glob(fmt: str) -> str:
    """`*.json` in any case (`*.[jJ][sS][oO][nN]`): a feed that writes `.JSON` is still read."""
    return "*." + "".join(f"[{ch.lower()}{ch.upper()}]" if ch.isalpha() else ch for ch in fmt)


def landing_inventory(source: Path, c: Contract) -> tuple[list[dict], list[str], list[str]]:
    """Walk an entity's landing folder without following links; return the files the stream
    does not read (`{"file", "reason"}`, relative to `source`), and the symbolic links to files
    and to folders (absolute paths), which the stream would follow and bronze refuses."""
    skipped, file_links, dir_links = [], [], []
    suffix = f".{c.format}"
    for folder, dirs, files in os.walk(source, followlinks=False):
        here = Path(folder)
        for d in list(dirs):
            if (here / d).is_symlink():
                dir_links.append(str(here / d))
                dirs.remove(d)
        for name in sorted(files):
            path = here / name
            rel = path.relative_to(source).as_posix()
            hidden = [part for part in path.relative_to(source).parts if part[:1] in "._"]
            if hidden:
                skipped.append({"file": rel, "reason": f"hidden name ({hidden[0]!r} starts with "
                                                      f"'.' or '_'): not read"})
            elif not name.lower().endswith(suffix):
                skipped.append({"file": rel, "reason": f"not a {suffix} file: not read"})
            elif path.is_symlink():
                file_links.append(str(path))
    return skipped, file_links, dir_links


def refused_rows(spark: SparkSession, c: Contract, paths: list[str]) -> DataFrame:
    """One bronze row per refused file (a symbolic link): no content read, `_parse_error` and
    `_raw` say why, so silver quarantines the file whole as `malformed`."""
    reason = "refused: a symbolic link, not followed (nothing outside the landing zone is read)"
    types = parquet_schema(c) if c.format == "parquet" else None
    cols = [F.lit(None).cast("string" if types is None or f.pii else types[f.name].dataType)
            .alias(f.name) for f in c.fields]
    return spark.createDataFrame([(p,) for p in paths], "path string").select(
        *cols, F.lit(None).cast("string").alias("_rescued_data"),
        F.lit(reason).alias("_parse_error"), F.lit(reason).alias("_raw"), "path",
        F.lit(None).cast("long").alias("line_no"))


def _stream(spark: SparkSession, c: Contract, source: Path) -> DataFrame:
    reader = spark.readStream.option("recursiveFileLookup", "true").option(
        "pathGlobFilter", extension_glob(c.format))
    reader = reader.option("maxFilesPerTrigger", 1000)
    if c.format == "parquet":
        df = reader.schema(parquet_schema(c)).format("parquet").load(str(source))
        return df.select("*", F.col("_metadata.file_path").alias("path"),
                         (F.col("_metadata.row_index") + 1).alias("line_no"))
    df = reader.format("text").option("wholetext", "true").load(str(source))
    return df.select(F.col("_metadata.file_path").alias("path"), "value")


def bronze_batch(batch: DataFrame, c: Contract, *, pii_key: Keys, landing_uri: str,
                 batch_id: int, run_id: str) -> DataFrame:
    """Turn one micro-batch of landed files into bronze rows."""
    if c.format == "parquet":
        paths = [r.path for r in batch.select("path").distinct().collect()]
        problems = parquet_file_problems(paths, c)
        bad = F.create_map(*[x for kv in problems.items() for x in map(F.lit, kv)]) if problems \
            else None
        cols = [protect_col(F.col(f.name).cast("string"), f.pii, pii_key).alias(f.name)
                if f.pii else F.col(f.name) for f in c.fields]
        df = batch.select(
            *cols, F.lit(None).cast("string").alias("_rescued_data"),
            (bad[F.col("path")] if bad is not None else F.lit(None).cast("string")).alias(
                "_parse_error"),
            F.lit(None).cast("string").alias("_raw"), "path", "line_no")
        df = df.withColumn("_raw", F.when(F.col("_parse_error").isNotNull(), mask_col(
            F.to_json(F.struct(*c.names)))))
    else:
        lines = split_lines(batch)
        parsed = parse_csv(lines, c.names) if c.format == "csv" else parse_jsonl(lines)
        # the text source decodes bytes that are not UTF-8 as U+FFFD: such a line is not what
        # the source sent, and is quarantined rather than loaded with replacement characters
        parsed = parsed.withColumn("_parse_error", F.coalesce("_parse_error", F.when(
            F.instr("line", "\ufffd") > 0, F.lit("malformed: not valid UTF-8"))))
        df = shape_records(parsed, c, pii_key)
    return add_lineage(df, landing_uri, batch_id, run_id)


def prepare(spark: SparkSession, config: Config, entities: list[str] | None = None) -> None:
    """What a run does once before its entities: the logs it appends to exist, and no
    checkpoint was reset without its table (raised before anything is read)."""
    ensure_logs(spark, config)
    _refuse_reset_checkpoints(spark, config, ordered_contracts(entities))


def run_entity(spark: SparkSession, config: Config, c: Contract, run_id: str,
               on_batch: Callable[[str, int, int, int], None] | None = None) -> dict:
    """Ingest every new landed file of one entity into bronze (after `prepare`); return its
    counts. Entities are independent here: several may load at once, each in a session of
    its own (jobs/ingest.py `load`)."""
    landing = config.landing
    landing_uri = "file:" + str(landing.resolve())
    source = landing / c.landing_subdir
    table = config.table("bronze", c.entity)
    if not source.exists():
        # a feed that has never sent a file: its table exists, empty, so marts are empty
        created = _ensure_empty(spark, c, table, landing_uri, run_id)
        return {"entity": c.entity, "files": 0, "rows": 0, "skipped": "no landing",
                **({"created_empty": True} if created else {})}
    checkpoint = config.path("checkpoints") / "bronze" / c.entity
    skipped, file_links, dir_links = landing_inventory(source, c)
    for s in skipped:
        log.warning("bronze %s: skipped landing/%s/%s: %s", c.entity, c.landing_subdir,
                    s["file"], s["reason"])
    stats = {"entity": c.entity, "files": 0, "rows": 0, "malformed": 0,
             "skipped_files": skipped, "refused": 0}
    app_id = _app_id(checkpoint, f"bronze-{c.entity}")

    def process(batch: DataFrame, batch_id: int) -> None:
        refused = []
        if file_links or dir_links:
            name = F.regexp_replace(local_path(F.col("path")), "^file:", "")
            cond = name.isin(file_links) if file_links else F.lit(False)
            for d in dir_links:
                cond = cond | name.startswith(d.rstrip("/") + "/")
            refused = [r.path for r in batch.where(cond).select("path").distinct().collect()]
            batch = batch.where(~cond)
        out = bronze_batch(batch, c, pii_key=config.pii_keys, landing_uri=landing_uri,
                           batch_id=batch_id, run_id=run_id)
        if refused:
            for p in refused:
                log.warning("bronze %s: refused %s: a symbolic link is never followed",
                            c.entity, p)
            stats["refused"] += len(refused)
            out = out.unionByName(add_lineage(refused_rows(spark, c, refused), landing_uri,
                                              batch_id, run_id))
        adopt_orphan(spark, table)  # a crash between a first commit and the catalog
        (out.write.format("delta").mode("append")
         .option("txnAppId", app_id()).option("txnVersion", batch_id)
         .saveAsTable(table))
        reached("bronze.appended", c.entity)
        # The batch's counts from what was written, not from a cached copy of the batch
        # (caching 2M parsed orders cost more than parsing them): `_batch_id` is unique in
        # the table (the checkpoint's sequence; a checkpoint is reset only with its table)
        # and Delta skips every file of other batches by its statistics. A replayed batch
        # whose append Delta skipped counts the rows the crashed run wrote: the same ones.
        counts = (spark.table(table).where(F.col("_batch_id") == batch_id)
                  .agg(F.count(F.lit(1)).alias("rows"),
                       F.count("_parse_error").alias("malformed"),
                       F.collect_set("_source_file").alias("files")).first())
        # each file's arrival, for the freshness measure (lanhai.landed)
        record_landed_files(spark, config, c.entity, counts["files"], run_id, batch_id,
                            f"{app_id()}:files")
        n_files = len(counts["files"])
        stats["files"] += n_files
        stats["rows"] += counts["rows"]
        stats["malformed"] += counts["malformed"]
        if on_batch:
            on_batch(c.entity, batch_id, n_files, counts["rows"])

    run_available_now(_stream(spark, c, source), f"bronze_{c.entity}", checkpoint, process)
    if _ensure_empty(spark, c, table, landing_uri, run_id):
        stats["created_empty"] = True  # a landing folder with no file to read yet
    return stats


def _refuse_reset_checkpoints(spark: SparkSession, config: Config,
                              cs: list[Contract]) -> None:
    """Stop before anything is read when a bronze table holds rows but its checkpoint has no
    batch: every landed file would be appended a second time (and a batch's counts, read back
    by `_batch_id`, would include the old rows). A reset is of both, or neither."""
    bad = []
    for c in cs:
        table = config.table("bronze", c.entity)
        offsets = config.path("checkpoints") / "bronze" / c.entity / "offsets"
        if offsets.is_dir() and any(offsets.iterdir()):
            continue
        adopt_orphan(spark, table)
        if has_data(spark, table):
            bad.append(f"{table} (checkpoint {offsets.parent})")
    if bad:
        raise RuntimeError(
            "bronze tables with rows but a new checkpoint: " + "; ".join(bad) + ". Reset both "
            "(drop the table, delete its folder and the checkpoint) or restore the checkpoint; "
            "ingesting now would append every landed file again")


def _ensure_empty(spark: SparkSession, c: Contract, table: str, landing_uri: str,
                  run_id: str) -> bool:
    """Create `table` empty, with the columns a batch would give it, if it does not exist."""
    if spark.catalog.tableExists(table) or adopt_orphan(spark, table):
        return False
    if c.format == "parquet":
        nothing = spark.createDataFrame([], parquet_schema(c).add("path", "string")
                                        .add("line_no", "long"))
    else:
        nothing = spark.createDataFrame([], "path string, value string")
    empty = bronze_batch(nothing, c, pii_key=b"-", landing_uri=landing_uri, batch_id=-1,
                         run_id=run_id)
    ensure_table(spark, table, ddl_of(empty))
    return True


def run_available_now(stream: DataFrame, name: str, checkpoint: Path,
                      process: Callable[[DataFrame, int], None]) -> None:
    """Run `process` on every micro-batch of what is available now, then stop."""
    query = (stream.writeStream.queryName(name)
             .option("checkpointLocation", str(checkpoint))
             .trigger(availableNow=True)
             .foreachBatch(process)
             .start())
    query.awaitTermination()


def _app_id(checkpoint: Path, prefix: str) -> Callable[[], str]:
    """Return the idempotent-write id of a query: its prefix and the checkpoint's query id.

    Delta skips a (txnAppId, txnVersion) it has seen, so a retried micro-batch is written
    once; tying the id to the checkpoint means a reset checkpoint starts a new sequence.
    """

    def app_id() -> str:
        meta = json.loads((checkpoint / "metadata").read_text(encoding="utf-8"))
        return f"{prefix}-{meta['id']}"

    return app_id
