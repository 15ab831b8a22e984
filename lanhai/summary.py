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
            if t.tableType != "VIEW":
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


def print_latest_week(spark: SparkSession, config: Config, console: Console) -> None:
    """Print the latest complete week's GMV KPIs and the week before."""
    mart = f"{config.db('marts')}.kpi_gmv_weekly"
    rows = spark.sql(
        f"select * from {mart} where week_end_date <= (select max(to_date(paid_at)) from "
        f"{config.table('silver', 'orders')}) order by iso_week_label desc limit 2").collect()
    if not rows:
        console.print("no complete week in the marts yet")
        return
    t = Table(title=f"Week {rows[0].iso_week_label} ({rows[0].week_start_date} to "
                    f"{rows[0].week_end_date})", title_justify="left")
    for c in ("KPI", "this week", "previous week"):
        t.add_column(c, justify="left" if c == "KPI" else "right")
    prev = rows[1] if len(rows) > 1 else None
    for label, col in (("GMV (CNY)", "gmv_cny"), ("net sales (CNY)", "net_sales_cny"),
                       ("paid orders", "paid_orders"), ("AOV (CNY)", "aov_cny")):
        t.add_row(label, f"{rows[0][col]:,}", f"{prev[col]:,}" if prev else "")
    console.print(t)
