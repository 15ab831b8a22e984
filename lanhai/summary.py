"""Summaries of the lake for people: rows per table, quarantine by rule, run accounting."""

from __future__ import annotations

from pyspark.sql import SparkSession
from rich.console import Console
from rich.table import Table

from lanhai.config import Config


def table_counts(spark: SparkSession, config: Config) -> list[tuple[str, int]]:
    """Return (table, rows) for every table of the lake's databases."""
    out = []
    for layer in config.raw["databases"]:
        db = config.db(layer)
        for t in spark.catalog.listTables(db):
            if t.tableType != "VIEW" and not t.isTemporary:
                out.append((f"{db}.{t.name}", spark.table(f"{db}.{t.name}").count()))
    return out


def print_summary(spark: SparkSession, config: Config, console: Console) -> None:
    """Print the lake's tables, the quarantine by rule and the accounting of ingest runs."""
    t = Table(title="Tables", title_justify="left")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in table_counts(spark, config):
        t.add_row(name, f"{n:,}")
    console.print(t)
    q = config.table("quarantine", "records")
    if spark.catalog.tableExists(q):
        t = Table(title="Quarantined rows by rule", title_justify="left")
        for c in ("entity", "rule", "field", "rows"):
            t.add_column(c, justify="right" if c == "rows" else "left")
        for r in spark.sql(f"select entity, rule, coalesce(field, '') as field, count(*) as n "
                           f"from {q} group by all order by 1, 2, 3").collect():
            t.add_row(r.entity, r.rule, r.field, f"{r.n:,}")
        console.print(t)
    a = config.table("audit", "ingest_runs")
    if spark.catalog.tableExists(a):
        t = Table(title="Silver row accounting (all runs): landed = inserted + updated + "
                        "superseded + duplicates + quarantined", title_justify="left")
        cols = ("landed", "inserted", "updated", "superseded", "duplicates", "quarantined",
                "late_references")
        t.add_column("entity")
        for c in cols:
            t.add_column(c, justify="right")
        sums = ", ".join(f"sum({c}) as {c}" for c in cols)
        for r in spark.sql(f"select entity, {sums} from {a} where layer = 'silver' "
                           f"group by entity order by entity").collect():
            t.add_row(r.entity, *[f"{r[c]:,}" for c in cols])
        console.print(t)


RAG_STYLE = {"green": "[green]● green[/green]", "amber": "[yellow]● amber[/yellow]",
             "red": "[red]● red[/red]"}


def format_value(value: float | None, unit: str) -> str:
    """A KPI value as people read it: 34.9%, 1,234.56, 1,234, 3.21."""
    if value is None:
        return "–"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    if unit == "pct":
        return f"{value:.1f}%"
    if unit == "cny":
        return f"{value:,.2f}"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:.2f}"


def format_change(change: float | None, unit: str) -> str:
    if change is None:
        return ""
    if unit in ("rate", "pct"):
        return f"{change:+.1f} pp"
    return ("+" if change >= 0 else "") + format_value(change, unit)


def latest_complete_week(spark: SparkSession, config: Config) -> str | None:
    row = spark.sql(f"select max(iso_week_label) as w from {config.db('marts')}"
                    f".mart_weekly_review where is_complete_week").first()
    return row.w if row else None


def print_latest_week(spark: SparkSession, config: Config, console: Console,
                      week: str | None = None) -> None:
    """Print a week's review (the latest complete week by default): every KPI at scope "all"
    and every KPI and scope the plan sets a target for, with the change and RAG."""
    week = week or latest_complete_week(spark, config)
    if not week:
        console.print("no complete week in the marts yet")
        return
    rows = spark.sql(
        f"select * from {config.db('marts')}.mart_weekly_review where iso_week_label = '{week}' "
        f"and (scope_type = 'all' or direction is not null) order by kpi, scope_type, "
        f"scope_value").collect()
    if not rows:
        console.print(f"no KPIs for {week} in the marts")
        return
    t = Table(title=f"Weekly review {week} ({rows[0].week_start_date} to "
                    f"{rows[0].week_end_date}) against the plan", title_justify="left")
    for c in ("KPI", "scope", "value", "previous", "change", "target", "RAG"):
        t.add_column(c, justify="left" if c in ("KPI", "scope", "RAG") else "right")
    for r in rows:
        scope = "all" if r.scope_type == "all" else f"{r.scope_type}={r.scope_value}"
        if r.direction == "band":
            target = f"{format_value(r.band_low, r.unit)}–{format_value(r.band_high, r.unit)}"
            if r.band_low == r.band_high:
                target = f"= {format_value(r.band_low, r.unit)}"
        elif r.direction:
            target = ("≥ " if r.direction == "higher" else "≤ ") + format_value(r.target, r.unit)
        else:
            target = ""
        t.add_row(r.kpi_name_en, scope, format_value(r.value, r.unit),
                  format_value(r.previous_value, r.unit), format_change(r.change, r.unit),
                  target, RAG_STYLE.get(r.rag, ""))
    console.print(t)
