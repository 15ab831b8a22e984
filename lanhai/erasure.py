"""PIPL erasure: remove a user from every layer, every Delta version and every file we wrote.

`lanhai erase-user <user_id>` (and `erase_users`) does, for each user id:

1. **Landing zone** (the only place with personal data in clear): the user's own records (lines
   of the users feed) are blanked, and every other mention of the id (their orders) is replaced
   by a random surrogate, in place; a file keeps its modification time, so the ingest does not
   take it for a new file, and a replay from landing gives the erased lake.
2. **Lake tables** (bronze, silver with its history, quarantine, audit): the user's own rows
   (the users entity, their quarantined users records) are deleted; in every other row, any
   string (or nested value) naming the id gets the surrogate instead. The surrogate is random
   and stored nowhere with the id, so the orders still count in GMV and buyers, but nobody can
   tell whose they were. Each change is a Delta MERGE against a one-row source, so the id is
   never written into a commit's predicate (Delta records a DELETE's literal condition in its
   log). String statistics keep one character (`spark.databricks.io.skipping.stringPrefixLength`
   1): no id, token or text beyond its first character ever reaches a `_delta_log` file.
3. **Marts**: every dbt model that depends on a changed table is rebuilt (`--full-refresh`).
4. **Delta versions**: every changed table is VACUUMed with zero retention, so no earlier
   version (time travel) still holds the rows; deletion vectors, if a table has them, are purged
   first (`REORG ... APPLY (PURGE)`).
5. **Other files** the lakehouse wrote (Great Expectations' results and Data Docs, logs, run
   records): the id is replaced by `[erased]`.

The erasure is recorded in `audit.erasures` (counts only, never the id). A rerun with the same
id finds nothing left and changes nothing; after a crash, a rerun finishes the work (the
tables a stopped run began are listed in `erasure-pending.json` under the data folder, names
only: the rerun vacuums them and rebuilds their marts even though they no longer name anyone).
VACUUM with zero retention breaks readers that are on an older version of a table at that
moment: on the cluster profile, run it when no job writes the lake.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lanhai.config import Config
from lanhai.crashpoints import reached

log = logging.getLogger(__name__)

SUBJECT = "users"  # the entity whose key is the person: their own records are deleted
ID_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
TEXT_SUFFIXES = {".csv", ".json", ".jsonl", ".ndjson", ".txt"}
# Files the lakehouse writes outside its tables, scrubbed as text.
SCRUB_SUFFIXES = {".json", ".jsonl", ".html", ".htm", ".log", ".txt", ".md", ".yml", ".yaml",
                  ".csv", ".xml", ".js"}
ERASED = "[erased]"
PARALLEL = 4  # tables scanned or vacuumed at once (each is mostly driver-side work)
ERASURES_COLUMNS = ("request_id string, requested_at timestamp, finished_at timestamp, "
                    "users int, landing_files int, rows_deleted long, rows_anonymised long, "
                    "tables string, models_rebuilt int, files_scrubbed int")


@dataclass
class Erasure:
    request_id: str
    users: int
    landing_files: list[str] = field(default_factory=list)
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    models_rebuilt: list[str] = field(default_factory=list)
    vacuumed: list[str] = field(default_factory=list)
    files_scrubbed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def found(self) -> bool:
        return bool(self.landing_files or self.tables or self.files_scrubbed)


def pattern(*user_ids: str) -> str:
    """Any of the ids as a whole word (Java and Python regex alike): U1 does not match inside
    U12."""
    return rf"(?<![0-9A-Za-z_])(?:{'|'.join(map(re.escape, user_ids))})(?![0-9A-Za-z_])"


def check_ids(user_ids: list[str]) -> list[str]:
    ids = list(dict.fromkeys(u.strip() for u in user_ids))
    bad = [u for u in ids if not ID_SHAPE.fullmatch(u)]
    if not ids or bad:
        raise ValueError(f"not a user id: {bad or ids!r} (letters, digits and _ . : - only)")
    return ids


# --- the landing zone ----------------------------------------------------------------------
def _entity_of(path: Path, landing: Path) -> str | None:
    parts = path.relative_to(landing).parts  # <domain>/<entity>/dt=.../<file>
    return parts[1] if len(parts) >= 3 else None


def scrub_landing(landing: Path, user_id: str, surrogate: str) -> list[str]:
    """Blank the user's own lines and replace the id elsewhere in every landed file; keep each
    file's modification time. Return the files changed (relative to the landing zone)."""
    rx = re.compile(pattern(user_id))
    changed = []
    if not landing.is_dir():
        return changed
    for path in sorted(landing.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue  # a link is never followed (the ingest quarantines it, unread)
        suffix = path.suffix.lower()
        own = _entity_of(path, landing) == SUBJECT
        if suffix in TEXT_SUFFIXES:
            done = _scrub_text_file(path, rx, surrogate, own)
        elif suffix == ".parquet":
            done = _scrub_parquet(path, user_id, surrogate, own)
        else:
            continue
        if done:
            changed.append(path.relative_to(landing).as_posix())
    return changed


def _replace_keeping_mtime(path: Path, write: Callable[[Path], None]) -> None:
    st = path.stat()
    tmp = path.with_name(f".{path.name}.erasing")
    write(tmp)
    os.replace(tmp, path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _scrub_text_file(path: Path, rx: re.Pattern, surrogate: str, own: bool) -> bool:
    raw = path.read_bytes()
    # bytes that are not UTF-8 pass through unchanged (surrogateescape)
    text = raw.decode("utf-8", errors="surrogateescape")
    if not rx.search(text):
        return False
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if rx.search(line):
            # A blank line is skipped by the ingest and keeps every other line's number.
            lines[i] = ("\r" if line.endswith("\r") else "") if own else rx.sub(surrogate, line)
    out = "\n".join(lines).encode("utf-8", errors="surrogateescape")
    _replace_keeping_mtime(path, lambda tmp: tmp.write_bytes(out))
    return True


def _scrub_parquet(path: Path, user_id: str, surrogate: str, own: bool) -> bool:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError):
        return False  # unreadable: the ingest quarantines it whole, and reads nothing from it
    strings = [n for n, t in zip(table.column_names, table.schema.types, strict=True)
               if pa.types.is_string(t) or pa.types.is_large_string(t)]
    # Arrow's regex engine (RE2) has no look-behind: the word's edges as groups instead
    word = rf"(^|[^0-9A-Za-z_]){re.escape(user_id)}($|[^0-9A-Za-z_])"
    hit = None
    for name in strings:
        m = pc.fill_null(pc.match_substring_regex(table[name], word), False)
        hit = m if hit is None else pc.or_(hit, m)
    if hit is None or not pc.any(hit).as_py():
        return False
    if own:
        table = table.filter(pc.invert(hit))
    else:
        for name in strings:
            i = table.column_names.index(name)
            column = table[name]
            for _ in range(2):  # "U1,U1": the second shares its edge with the first
                column = pc.replace_substring_regex(column, word, rf"\1{surrogate}\2")
            table = table.set_column(i, name, column)
    _replace_keeping_mtime(path, lambda tmp: pq.write_table(table, tmp))
    return True


# --- the lake's tables ---------------------------------------------------------------------
def _dbt_tables(config: Config) -> set[str] | None:
    """The tables dbt builds (rebuilt, not scrubbed), from its manifest; None before dbt has
    written one."""
    import json

    manifest = config.path("dbt") / "target" / "manifest.json"
    if not manifest.exists():
        return None
    nodes = [n for n in json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
             if n["resource_type"] in ("model", "seed")]
    return {f"{n['schema']}.{n['alias'] or n['name']}" for n in nodes}


def _lake_tables(spark, config: Config) -> list[str]:
    """Every Delta table of the catalog but dbt's models: the lake's layers, the tables jobs
    write beside the marts (customer value's predictions), and any table someone made (an
    analyst's copy holds the people too)."""
    from lanhai.spark import delta_tables

    built = _dbt_tables(config)
    if built is None:  # no manifest: dbt has not built its schemas' tables either
        skip = {"staging", "intermediate"}
        return delta_tables(spark, [d.name for d in spark.catalog.listDatabases()
                                    if d.name not in skip])
    # a stale table dbt no longer builds is scrubbed like any other
    return delta_tables(spark, [d.name for d in spark.catalog.listDatabases()], exclude=built)


def _is_own(config: Config, table: str) -> str | None:
    """The condition on a table's rows that makes them the person's own records."""
    if table in (config.table("bronze", SUBJECT), config.table("silver", SUBJECT),
                 config.table("silver", f"{SUBJECT}_history")):
        return "true"
    if table == config.table("quarantine", "records"):
        return f"t.entity = '{SUBJECT}'"
    return None


def _text_columns(df) -> dict[str, tuple[str, bool]]:
    """Columns that can hold an id: name -> (SQL text of it for `t`, is a plain string)."""
    out = {}
    for f in df.schema.fields:
        if f.dataType.simpleString() == "string":
            out[f.name] = (f"t.`{f.name}`", True)
        elif f.dataType.typeName() in ("array", "struct", "map"):
            out[f.name] = (f"to_json(t.`{f.name}`)", False)
    return out


def mentioned(spark, table: str, user_ids: list[str]) -> list[str]:
    """The ids some row of a table names (in a string, or inside a nested value), in one read
    of the table: the rows naming any of them are picked by one pattern, then each id is
    looked for in those rows only."""
    from pyspark.sql import functions as F

    df = spark.table(table)
    text = _text_columns(df)
    if not text or not user_ids:
        return []

    def probe(rx: str) -> str:
        rx = rx.replace("\\", "\\\\").replace("'", "\\'")
        return " or ".join(f"coalesce({sql} rlike '{rx}', false)" for sql, _ in text.values())

    row = (df.alias("t").where(probe(pattern(*user_ids)))
           .agg(*[F.max(F.expr(probe(pattern(u)))).alias(f"m{i}")
                  for i, u in enumerate(user_ids)])
           .first())
    return [u for i, u in enumerate(user_ids) if row[f"m{i}"]]


def scrub_table(spark, config: Config, table: str, user_id: str, surrogate: str) -> dict:
    """Delete the person's own rows of a table and replace the id in the others, in one MERGE
    whose source row carries the id (the commit records column names, never the value).
    Return Delta's counts."""
    from delta.tables import DeltaTable

    types = {f.name: f.dataType.simpleString() for f in spark.table(table).schema.fields}
    text = _text_columns(spark.table(table))
    source = spark.createDataFrame([(pattern(user_id), surrogate)],
                                   "pattern string, surrogate string")
    cond = " or ".join(f"coalesce({sql} rlike s.pattern, false)" for sql, _ in text.values())
    updates = {f"`{n}`": (f"regexp_replace({sql}, s.pattern, s.surrogate)" if plain else
                          f"from_json(regexp_replace({sql}, s.pattern, s.surrogate), "
                          f"'{types[n]}')")
               for n, (sql, plain) in text.items()}
    merge = DeltaTable.forName(spark, table).alias("t").merge(source.alias("s"), cond)
    own = _is_own(config, table)
    if own == "true":
        merge = merge.whenMatchedDelete()
    else:
        if own:
            merge = merge.whenMatchedDelete(condition=own)
        merge = merge.whenMatchedUpdate(set=updates)
    # the MERGE's own counts: when it matches nothing (another id's MERGE took the only
    # mention) it commits nothing, and the table's last commit would be someone else's
    metrics = merge.execute().first()
    return {"deleted": int(metrics["num_deleted_rows"] or 0),
            "anonymised": int(metrics["num_updated_rows"] or 0)}


def vacuum_now(spark, tables: list[str]) -> None:
    """Drop every file no longer in each table's current version (all earlier versions)."""
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    before = spark.conf.get(check, "true")
    spark.conf.set(check, "false")
    try:
        with ThreadPoolExecutor(PARALLEL) as pool:
            list(pool.map(lambda t: _vacuum(spark, t), tables))
    finally:
        spark.conf.set(check, before)


def _vacuum(spark, table: str) -> None:
    props = {r["key"]: r["value"] for r in spark.sql(f"show tblproperties {table}").collect()}
    if props.get("delta.enableDeletionVectors") == "true":
        spark.sql(f"reorg table {table} apply (purge)")  # rows only marked deleted: rewrite
    try:  # LITE: the files the log says were removed (seconds, not a listing of the table)
        spark.sql(f"vacuum {table} retain 0 hours lite")
    except Exception as err:  # noqa: BLE001 - the log was cleaned past the last VACUUM
        if "LITE" not in str(err).upper():
            raise
        spark.sql(f"vacuum {table} retain 0 hours")


# --- dbt -----------------------------------------------------------------------------------
def _source_selectors(config: Config, tables: list[str]) -> list[str]:
    """dbt selectors for the models downstream of the changed lake tables."""
    from lanhai.dbt import sources

    known = {(s["schema"], t["name"]): s["name"] for s in sources()["sources"]
             for t in s["tables"]}
    layer_of = {v: k for k, v in config.raw["databases"].items()}
    out = []
    for full in tables:
        db, name = full.split(".")
        if (source := known.get((layer_of.get(db), name))) is not None:
            out.append(f"source:{source}.{name}+")
    return sorted(set(out))


def rebuild_marts(spark, config: Config, tables: list[str]) -> list[str]:
    """`dbt build --full-refresh` of every model downstream of the changed tables; return the
    tables it rebuilt (to be vacuumed)."""
    import json

    from lanhai.dbt import PRODUCTION_FLAGS, run_dbt

    selectors = _source_selectors(config, tables)
    if not selectors:
        return []
    if not run_dbt(config, ["build", "--full-refresh", *PRODUCTION_FLAGS,
                            "--select", *selectors]):
        raise RuntimeError(
            "the lake is erased but rebuilding the marts failed (see the dbt log under "
            f"{config.path('dbt') / 'logs'}); rerun `lanhai erase-user` with the same id to "
            "finish: it rebuilds and vacuums them")
    results = json.loads((config.path("dbt") / "target" / "run_results.json")
                         .read_text(encoding="utf-8"))
    manifest = json.loads((config.path("dbt") / "target" / "manifest.json")
                          .read_text(encoding="utf-8"))
    rebuilt = []
    for r in results["results"]:
        node = manifest["nodes"].get(r["unique_id"], {})
        if (r["status"] == "success" and node.get("resource_type") in ("model", "seed")
                and node.get("config", {}).get("materialized") in ("table", "incremental",
                                                                   "seed")):
            rebuilt.append(f"{node['schema']}.{node['alias'] or node['name']}")
    return rebuilt


# --- files ---------------------------------------------------------------------------------
def written_files(config: Config) -> Iterator[Path]:
    """The text files the lakehouse wrote outside its tables (GE results and Data Docs, logs,
    run records), not the landing zone, the lake, the catalog or the sources' side."""
    root = config.data_dir
    skip = [config.landing, config.lake, config.path("catalog"), root / "simulator",
            root / "held_back"]
    for path in root.rglob("*"):
        if (not path.is_symlink() and path.is_file() and path.suffix.lower() in SCRUB_SUFFIXES
                and not any(path.is_relative_to(s) for s in skip)):
            yield path


def scrub_files(config: Config, user_id: str) -> list[str]:
    """Replace the id in every text file the lakehouse wrote outside its tables."""
    rx = re.compile(pattern(user_id).encode())
    changed = []
    for path in written_files(config):
        data = path.read_bytes()
        if rx.search(data):
            path.write_bytes(rx.sub(ERASED.encode(), data))
            changed.append(path.relative_to(config.data_dir).as_posix())
    return changed


# --- the whole erasure ---------------------------------------------------------------------
def pending_path(config: Config) -> Path:
    """The tables an erasure began to scrub and has not yet vacuumed (names only, never an id):
    a stopped run leaves it, and the next run vacuums those tables and rebuilds their marts
    too; a table it had already scrubbed no longer names the person, so a scan would miss it
    while its earlier Delta versions still hold the rows."""
    return config.data_dir / "erasure-pending.json"


def _pending(config: Config) -> set[str]:
    path = pending_path(config)
    return set(json.loads(path.read_text(encoding="utf-8"))["tables"]) if path.exists() else set()


def _note_pending(config: Config, tables: set[str]) -> None:
    path = pending_path(config)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"tables": sorted(tables)}), encoding="utf-8")
    os.replace(tmp, path)  # whole or not at all


def erase_users(spark, config: Config, user_ids: list[str], rebuild: bool = True,
                on_step: Callable[[str], None] | None = None) -> Erasure:
    """Erase each user from the landing zone, every table, the marts, every Delta version and
    the files the lakehouse wrote; record the erasure (counts only) in `audit.erasures`."""
    from pyspark.sql import functions as F

    from lanhai.spark import ensure_table

    say = on_step or (lambda _msg: None)
    ids = check_ids(user_ids)
    began = time.time()
    out = Erasure(request_id=uuid.uuid4().hex[:12], users=len(ids))
    tables = _lake_tables(spark, config)
    # Each table is read once for all the people (side by side: Spark runs the scans at once);
    # then each person in turn: their landed files, then the tables naming them, one by one.
    scan_began = time.time()
    with ThreadPoolExecutor(PARALLEL) as pool:
        hits = dict(zip(tables, pool.map(lambda t: mentioned(spark, t, ids), tables),
                        strict=True))
    say(f"{len(tables)} table(s) read in {time.time() - scan_began:.0f} s, "
        f"{sum(map(bool, hits.values()))} name them")
    # Before the first change: what this run will scrub, with what a stopped run left
    pending = _pending(config)
    _note_pending(config, pending | {t for t in tables if hits[t]})
    for i, uid in enumerate(ids, 1):
        surrogate = f"erased_{secrets.token_hex(8)}"  # random: nothing leads back to the id
        files = scrub_landing(config.landing, uid, surrogate)
        out.landing_files += files
        say(f"user {i}/{len(ids)}: landing zone, {len(files)} file(s) rewritten")
        for table in (t for t in tables if uid in hits[t]):
            counts = scrub_table(spark, config, table, uid, surrogate)
            reached("erasure.scrubbed", table)
            total = out.tables.setdefault(table, {"deleted": 0, "anonymised": 0})
            for k, v in counts.items():
                total[k] += v
            say(f"user {i}/{len(ids)}: {table}: {counts['deleted']} deleted, "
                f"{counts['anonymised']} anonymised")
    changed = sorted(out.tables)
    # this run's tables and those a stopped run scrubbed (they no longer name the person)
    finish = sorted(set(changed) | {t for t in pending if spark.catalog.tableExists(t)})
    if pending:
        say(f"{len(pending)} table(s) left by a stopped erasure: vacuumed and rebuilt too")
    if rebuild and finish:
        say(f"dbt: rebuilding the models downstream of {len(finish)} table(s)")
        out.models_rebuilt = rebuild_marts(spark, config, finish)
    out.vacuumed = [t for t in dict.fromkeys([*finish, *out.models_rebuilt])
                    if spark.catalog.tableExists(t)]
    vacuum_now(spark, out.vacuumed)
    say(f"vacuumed {len(out.vacuumed)} table(s): no earlier version holds the rows")
    for uid in ids:
        out.files_scrubbed += scrub_files(config, uid)
    say(f"{len(out.files_scrubbed)} other file(s) scrubbed")
    pending_path(config).unlink(missing_ok=True)
    out.seconds = round(time.time() - began, 1)
    audit = config.table("audit", "erasures")
    ensure_table(spark, audit, ERASURES_COLUMNS)
    row = spark.createDataFrame([(
        out.request_id, None, None, out.users, len(out.landing_files),
        sum(t["deleted"] for t in out.tables.values()),
        sum(t["anonymised"] for t in out.tables.values()), ", ".join(changed),
        len(out.models_rebuilt), len(out.files_scrubbed))], ERASURES_COLUMNS)
    (row.withColumn("requested_at", F.lit(began).cast("timestamp"))
     .withColumn("finished_at", F.current_timestamp())
     .write.format("delta").mode("append").saveAsTable(audit))
    return out
