"""The single-node baseline of `make bench`: every KPI of the weekly review computed by DuckDB
straight from the landing files, the way an analyst without the lakehouse would.

Nothing here imports the pipeline. DuckDB reads the files itself (`read_csv`, `read_json`,
`read_parquet`), applies the contracts' rules from schemas/ (types, required, enums, ranges),
drops duplicates, keeps each key's latest version and converts to CNY at the day's rate, all
in SQL. The KPIs are then the independent computation the test suite checks the marts against
(tests/reference_kpis.py: DuckDB SQL written from ../shared/PLAN.md, not the project's dbt
models), so the baseline and the marts must agree cell by cell, and `bench/run.py` checks that
they do. Its own check: tests/test_baseline.py (the same rows as the reference's Python loader
on a simulated landing zone).

    python bench/baseline.py data/landing     # prints the stage times and the row count
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the independent KPI SQL lives beside its test

import reference_kpis as ref  # noqa: E402

SCHEMAS = ROOT / "schemas"
READERS = {
    "csv": "read_csv({files}, all_varchar = true, header = true, delim = ',', quote = '\"', "
           "escape = '\"', union_by_name = true, ignore_errors = true, filename = true)",
    "jsonl": "read_json({files}, format = 'newline_delimited', ignore_errors = true, "
             "filename = true, columns = {columns})",
    "parquet": "read_parquet({files}, union_by_name = true, filename = true)",
}


def contracts() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
            for p in sorted(SCHEMAS.glob("*.yaml"))}


def _files(landing: Path, c: dict) -> list[str]:
    return [str(p) for p in sorted(landing.glob(f"{c['domain']}/{c['entity']}/dt=*/*"))
            if p.is_file() and not p.name.startswith(".")]


def _typed(expr: str, f: dict) -> tuple[str, str]:
    """(the typed value, whether the raw text casts) for one field of a contract: the value
    as text is blank -> NULL; otherwise it must parse as the type, strictly (no exponents, no
    '+', ISO dates), as the contracts say."""
    t = f["type"]
    raw = f"(case when trim({expr}) = '' then null else {expr} end)"
    text = f"trim({raw})"
    if t == "string":
        return raw, "true"
    if t in ("int", "long"):
        ok = f"regexp_full_match({text}, '-?[0-9]+')"
        return f"(case when {ok} then cast({text} as bigint) end)", ok
    if t.startswith("decimal"):
        scale = int(t.split(",")[1].rstrip(")"))
        ok = f"regexp_full_match({text}, '-?[0-9]+([.][0-9]+)?')"
        return (f"(case when {ok} then cast(round(cast({text} as decimal(38,10)), {scale}) "
                f"as {t}) end)"), ok
    if t == "boolean":
        ok = f"lower({text}) in ('true', 'false')"
        return f"(case when {ok} then lower({text}) = 'true' end)", ok
    if t == "date":
        value = f"try_cast({text} as date)"
        return value, (f"(regexp_full_match({text}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
                       f"and {value} is not null)")
    if t == "timestamp":  # a time without an offset is Shanghai's; kept as Shanghai wall time
        value = f"cast(try_cast({text} as timestamptz) as timestamp)"
        return value, f"({value} is not null)"
    raise ValueError(t)


def _rules(fields: list[dict], text_of) -> tuple[list[tuple[str, str]], list[str]]:
    """The typed value of each field (`text_of(name)`: its raw value as text) and the
    contract's rules on them: a blank value is no value; any other must cast, be in its enum
    and within its bounds; a required one must be there."""
    cols, rules = [], []
    for f in fields:
        if f["type"] == "array<item>":
            continue
        raw = text_of(f["name"])
        value, ok = _typed(raw, f)
        cols.append((f["name"], value))
        rules.append(f"(nullif(trim({raw}), '') is null or coalesce({ok}, false))")
        if f.get("required"):
            rules.append(f"{value} is not null")
        if f.get("enum"):
            allowed = ", ".join("'" + str(e) + "'" for e in f["enum"])
            rules.append(f"({value} is null or cast({value} as varchar) in ({allowed}))")
        for bound, op in (("min", ">="), ("max", "<=")):
            if bound in f:
                rules.append(f"({value} is null or {value} {op} {f[bound]})")
    return cols, rules


def load(con, landing: Path) -> dict[str, int]:
    """One table per entity, `v_<entity>`: every valid record of the landing zone, typed, each
    (key, version) once (the first landed). Returns the records read per entity."""
    read = {}
    for entity, c in contracts().items():
        files = _files(landing, c)
        fields = c["fields"]
        if not files:
            names = ", ".join(f"null::varchar as \"{f['name']}\"" for f in fields)
            con.execute(f"create table raw_{entity} as select {names}, null::varchar as "
                        f"filename, 0::bigint as rid where false")
        else:
            columns = "{" + ", ".join(
                f"'{f['name']}': '{'JSON' if f['type'] == 'array<item>' else 'VARCHAR'}'"
                for f in fields) + "}"
            reader = READERS[c["format"]].format(files=files, columns=columns)
            con.execute(f"create table raw_{entity} as select *, row_number() over () as rid "
                        f"from {reader}")
        read[entity] = con.execute(f"select count(*) from raw_{entity}").fetchone()[0]
        cols, rules = _rules(fields, lambda name: f'cast(r."{name}" as varchar)')
        key = [*c["key"], c["version"]]
        items, item_rule = "", "true"
        if c.get("item_fields"):
            items, item_rule = _items(con, entity, c)
        con.execute(f"""
            create table t_{entity} as
            select {', '.join(f'{v} as "{n}"' for n, v in cols)}{items},
                   r.filename as _file, r.rid as _rid
            from raw_{entity} r {'join items_' + entity + ' it using (rid)' if items else ''}
            where {' and '.join(rules)} and {item_rule}""")
        con.execute(f"""
            create table v_{entity} as select * exclude (_file, _rid) from t_{entity}
            qualify row_number() over (partition by {', '.join(f'"{k}"' for k in key)}
                                       order by _file, _rid) = 1""")
    return read


def _items(con, entity: str, c: dict) -> tuple[str, str]:
    """An order's items: a non-empty JSON array of objects, every one valid, typed."""
    typed, rules = _rules(c["item_fields"], lambda name: f"(i.it->>'$.{name}')")
    struct = ", ".join(f"'{n}': {v}" for n, v in typed)
    con.execute(f"""
        create table items_{entity} as
        select rid, bool_and(json_type(it) = 'OBJECT' and {' and '.join(rules)}) as ok,
               list({{{struct}}} order by ord) as items
        from (select rid, unnest(l) as it, generate_subscripts(l, 1) as ord
              from (select rid, from_json(items, '["JSON"]') as l from raw_{entity}
                    where json_type(items) = 'ARRAY')) as i
        group by rid""")
    return ", it.items", "it.ok"


def _latest(entity: str, key: list[str], version: str) -> str:
    keys = ", ".join(key)
    return (f"select * from v_{entity} qualify row_number() over (partition by {keys} "
            f"order by {version} desc) = 1")


def _versions(entity: str, key: str) -> str:
    """Every version of an entity, valid from its update (the first from 1900) until the next."""
    return f"""select * exclude (nxt),
        case when row_number() over w = 1 then timestamp '1900-01-01' else updated_at end
            as valid_from,
        coalesce(nxt, timestamp '2200-01-01') as valid_to
    from (select *, lead(updated_at) over (partition by {key} order by updated_at) as nxt
          from v_{entity})
    window w as (partition by {key} order by updated_at)"""


CENTS = "cast(round({x}, 2) * 100 as bigint)"


def prepare(con) -> None:
    """The facts and dimensions the KPI SQL reads (tests/reference_kpis.py), money in cents:
    each key's latest version, orders at the rate of their payment day (or creation day) for
    their currency (the latest published rate on or before that day)."""
    fx = _latest("fx_rates", ["rate_date", "currency"], "published_at")
    con.execute(f"create table fx as {fx}")
    con.execute(f"create table o as {_latest('orders', ['order_id'], 'updated_at')}")
    con.execute("""
        create table order_rate as
        select o.order_id, case when o.currency = 'CNY' then 1::decimal(18,6)
                                else fx.cny_per_unit end as rate
        from o asof left join fx
          on fx.currency = o.currency
         and cast(coalesce(o.paid_at, o.created_at) as date) >= fx.rate_date""")
    con.execute(f"""
        create table lines as
        select o.order_id, it.line_no, it.sku_id, it.qty,
               {CENTS.format(x="(it.qty * it.unit_price - it.discount) * r.rate")} as gmv
        from (select order_id, unnest(items) as it from o) o join order_rate r using (order_id)""")
    con.execute("""
        create table orders as
        select o.order_id, o.user_id, o.merchant_id, o.channel, o.created_at, o.paid_at,
               cast(coalesce(sum(l.gmv), 0) as bigint) as gmv
        from o left join lines l using (order_id)
        group by all""")
    con.execute(f"""
        create table refunds as
        select f.order_id, f.refunded_at, {CENTS.format(x="f.amount * r.rate")} as amount
        from ({_latest('refunds', ['refund_id'], 'updated_at')}) f
        join order_rate r using (order_id)""")
    con.execute(f"""
        create table shipments as
        select shipment_id, order_id, shipped_at, promised_at, delivered_at,
               {CENTS.format(x="logistics_cost_cny")} as cost
        from ({_latest('shipments', ['shipment_id'], 'updated_at')})""")
    inventory = _latest("inventory", ["snapshot_date", "sku_id", "warehouse_id"], "exported_at")
    con.execute(f"create table inventory as select snapshot_date, sku_id, qty_on_hand as qty "
                f"from ({inventory})")
    con.execute(f"""
        create table spend as
        select spend_date, channel, pilot_category, {CENTS.format(x="amount_cny")} as amount
        from ({_latest('spend', ['spend_id'], 'updated_at')})""")
    con.execute(f"create table users as select * exclude (phone, id_card_no, email) "
                f"from ({_versions('users', 'user_id')})")
    con.execute(f"create table merchants as {_versions('merchants', 'merchant_id')}")
    # the rest of the plan's feeds (listing accuracy, the A/B tests)
    audits = _latest("listing_audits", ["audit_id"], "updated_at")
    con.execute(f"create table audits as select audit_id, sku_id, audited_at, "
                f"matches_description from ({audits})")
    con.execute(f"create table experiments as select experiment_id, ended_at "
                f"from ({_latest('experiments', ['experiment_id'], 'updated_at')})")
    con.execute(f"create table assignments as select experiment_id, user_id, variant from "
                f"({_latest('assignments', ['experiment_id', 'user_id'], 'assigned_at')})")
    con.execute("create table exposures as select distinct experiment_id, user_id, exposed_at "
                "from v_exposures")
    con.execute(f"""
        create table skus as
        select s.sku_id, s.spu_id, s.merchant_id, s.category_l1, s.is_nonstandard,
               s.pilot_category, {CENTS.format(x="s.unit_cost_cny")} as unit_cost,
               c.is_smart_device, s.valid_from, s.valid_to
        from ({_versions('skus', 'sku_id')}) s
        left join ({_latest('categories', ['category_l2'], 'updated_at')}) c
          on c.category_l2 = s.category_l2""")


def review(landing: Path, timings: dict | None = None):
    """Every KPI row of the weekly review from the landing files: the shape of
    marts.mart_weekly_review (tests/reference_kpis.reference_review's rows). `timings` gets
    the seconds of each stage: load (read, type, validate, deduplicate), prepare (latest
    versions, CNY), kpis."""
    timings = {} if timings is None else timings
    con = duckdb.connect()
    con.execute("set TimeZone = 'Asia/Shanghai'")
    t = time.perf_counter()
    timings["records_read"] = sum(load(con, landing).values())
    timings["load_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    prepare(con)
    timings["prepare_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    con.execute(ref.SETUP)
    for stmt in ref._statements():
        con.execute(stmt)
    rows = ref._review_rows(con)
    timings["kpis_s"] = round(time.perf_counter() - t, 2)
    return rows


if __name__ == "__main__":
    seconds: dict = {}
    out = review(Path(sys.argv[1]), seconds)
    print(len(out), "rows", seconds)
