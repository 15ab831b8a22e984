"""SQL over the marts for analysts: `lanhai sql`.

Two engines answer the same query:

- `duckdb` (the default), the fast path: DuckDB reads the marts' Delta tables directly through
  delta-rs (the `deltalake` package). No JVM, no catalog, no lock: it answers while an ingest
  or a dbt run holds the embedded catalog, in a fraction of a second for a KPI query.
- `spark`: the project's Spark session on the shared catalog (on the embedded profile it waits
  for the catalog's lock like every other Spark process).

The fast path sees the marts database only (what analysts read; bronze, silver and the
quarantine hold tokenised personal data and raw feeds), under the same `marts.<table>` names
as Spark. A session pins every mart at the Delta version that was current when it opened, so
the queries of one session (one command, or one interactive session until `.refresh`) read one
consistent state even while dbt commits new versions.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from lanhai.config import Config

ENGINES = ("duckdb", "spark")
FORMATS = ("table", "csv", "json")
_LOG_ENTRY = re.compile(r"^(\d{20})\.(json|checkpoint\.parquet)$")


def latest_version(table: Path) -> int | None:
    """The newest committed Delta version of a table folder, from its log's file names alone
    (no log replay): None when the folder holds no Delta table."""
    log = table / "_delta_log"
    if not log.is_dir():
        return None
    versions = [int(m.group(1)) for p in log.iterdir() if (m := _LOG_ENTRY.match(p.name))]
    return max(versions) if versions else None


@dataclass
class FastPath:
    """A DuckDB connection that reads the marts' Delta tables at pinned versions."""

    config: Config
    database: str = "marts"
    versions: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # loaded with the session, not by its first query (pyarrow.dataset alone: ~0.4 s)
        import deltalake  # noqa: F401
        import duckdb
        import pyarrow.dataset  # noqa: F401

        self.schema = self.config.db(self.database)
        self.folder = self.config.lake / f"{self.schema}.db"
        self.con = duckdb.connect(":memory:")
        self.con.execute(f"set TimeZone = '{self.config.spark['timezone']}'")
        self.con.execute(f"create schema {self.schema}")
        self.refresh()

    def refresh(self) -> dict[str, int]:
        """Pin every table of the database at its newest version (the session's snapshot)."""
        if not self.folder.is_dir():
            raise FileNotFoundError(f"no {self.schema} database at {self.folder}: build the "
                                    f"marts first (`lanhai dbt build` or `make demo`)")
        self.versions = {p.name: v for p in sorted(self.folder.iterdir())
                         if (v := latest_version(p)) is not None}
        self._registered: set[str] = set()
        return self.versions

    def close(self) -> None:
        """Close DuckDB before the interpreter exits: a connection left to the garbage
        collector at exit, with Arrow datasets registered, can abort or hang the process."""
        self.con.close()

    def __enter__(self) -> FastPath:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def tables(self) -> list[str]:
        return list(self.versions)

    def _register(self, name: str) -> None:
        from deltalake import DeltaTable

        if name in self._registered or name not in self.versions:
            return
        delta = DeltaTable(str(self.folder / name), version=self.versions[name])
        dataset = delta.to_pyarrow_dataset()
        view = f"__{self.schema}__{name}"
        self.con.register(view, dataset)
        self.con.execute(f'create or replace view {self.schema}."{name}" as '
                         f'select * from "{view}"')
        self._registered.add(name)

    def query(self, sql: str) -> pa.Table:
        """Run one statement; only the tables it names are opened (their logs read once)."""
        words = set(re.findall(r"[a-z_][a-z0-9_]*", sql.lower()))
        for name in self.versions:
            if name in words:
                self._register(name)
        self.con.execute(f"set schema = '{self.schema}'")
        relation = self.con.sql(sql)
        return pa.table({}) if relation is None else relation.to_arrow_table()


def spark_query(config: Config, sql: str) -> pa.Table:
    from lanhai.spark import get_reader_spark

    spark = get_reader_spark(config)
    spark.catalog.setCurrentDatabase(config.db("marts"))
    return spark.sql(sql).toArrow()


# ---- output ----------------------------------------------------------------------------------

def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value


def rows(table: pa.Table) -> Iterator[list]:
    for batch in table.to_batches():
        columns = [c.to_pylist() for c in batch.columns]
        yield from ([_plain(v) for v in row] for row in zip(*columns, strict=True))


def render(table: pa.Table, fmt: str, out=None, limit: int | None = None) -> None:
    """Print a result as a table (rich), CSV (header row) or JSON lines."""
    out = out or sys.stdout
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(table.column_names)
        writer.writerows([["" if v is None else v for v in r] for r in rows(table)])
        out.write(buffer.getvalue())
    elif fmt == "json":
        for r in rows(table):
            out.write(json.dumps(dict(zip(table.column_names, r, strict=True)),
                                 ensure_ascii=False, default=str) + "\n")
    elif fmt == "table":
        from rich.console import Console
        from rich.table import Table

        shown = Table(*table.column_names, show_lines=False, header_style="bold")
        for i, r in enumerate(rows(table)):
            if limit is not None and i >= limit:
                break
            shown.add_row(*["∅" if v is None else str(v) for v in r])
        console = Console(file=out, width=None if out.isatty() else 200)
        console.print(shown)
        more = f", {limit} shown" if limit is not None and table.num_rows > limit else ""
        console.print(f"[dim]{table.num_rows:,} row(s){more}[/dim]")
    else:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")


# ---- the interactive mode -------------------------------------------------------------------

HELP = """Statements end with ';'. Commands: .tables  .versions  .refresh  .format table|csv|json
.timer on|off  .help  .quit"""


def interactive(run, session: FastPath | None, fmt: str, out=None, lines=None) -> None:
    """A small SQL shell: statements may span lines and end with ';'."""
    out = out or sys.stdout
    source = lines if lines is not None else _input_lines()
    timer = False
    pending: list[str] = []
    out.write(HELP + "\n")
    for line in source:
        stripped = line.strip()
        if not pending and stripped.startswith("."):
            command, *arg = stripped.split()
            if command in (".quit", ".exit"):
                return
            if command == ".help":
                out.write(HELP + "\n")
            elif command == ".tables" and session:
                out.write("\n".join(session.tables()) + "\n")
            elif command == ".versions" and session:
                out.write(json.dumps(session.versions, indent=1) + "\n")
            elif command == ".refresh" and session:
                session.refresh()
                out.write("pinned the marts at their newest versions\n")
            elif command == ".format" and arg and arg[0] in FORMATS:
                fmt = arg[0]
            elif command == ".timer" and arg:
                timer = arg[0] == "on"
            else:
                out.write(f"unknown or unavailable command: {stripped}\n")
            continue
        pending.append(line)
        if not stripped.endswith(";"):
            continue
        statement = "\n".join(pending).strip().rstrip(";")
        pending = []
        began = time.perf_counter()
        try:
            result = run(statement)
        except Exception as err:  # a wrong query is the user's to fix: say why and go on
            out.write(f"error: {str(err).splitlines()[0]}\n")
            continue
        render(result, fmt, out, limit=200 if fmt == "table" else None)
        if timer:
            out.write(f"{time.perf_counter() - began:.3f} s\n")


def _input_lines() -> Iterator[str]:
    import contextlib

    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (history and line editing for input())
    while True:
        try:
            yield input("lanhai> ")
        except EOFError:
            return
