"""A second, independent computation of every KPI of the weekly review, straight from the
landing files: Python reads the files and applies the contracts' rules, DuckDB computes the
KPIs as ../shared/PLAN.md defines them. Nothing here imports the pipeline (the contracts in
schemas/ are the spec, read as YAML; conf/targets.yaml is not needed: targets are not KPIs).

Money is kept in integer cents (exact); a rate is compared with a tolerance, its numerator and
denominator exactly. `reference_review(landing)` returns one row per week x KPI x scope, the
shape of marts.mart_weekly_review.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import yaml

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
SHANGHAI = timezone(timedelta(hours=8))
EMERGING = ("live_stream", "kol", "community_group")
LOWER_TIERS = ("tier3", "tier4", "tier5")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_INT = re.compile(r"^-?\d+$")


# --- landing files -> valid records, by the contracts ----------------------------------------
def _contracts() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
            for p in sorted(SCHEMAS.glob("*.yaml"))}


def _parse(value, typ: str):  # noqa: PLR0911 (one return per type)
    """Return (ok, parsed): ok is False for a value that does not cast to the type."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return True, None
    text = str(value).strip() if not isinstance(value, bool) else str(value).lower()
    try:
        if typ == "string":
            return True, str(value)
        if typ in ("int", "long"):
            if isinstance(value, int) and not isinstance(value, bool):
                return True, value
            return (True, int(text)) if _INT.match(text) else (False, None)
        if typ.startswith("decimal"):
            scale = int(typ.split(",")[1].rstrip(")"))
            if isinstance(value, int | float) and not isinstance(value, bool):
                text = repr(value)
            if not _DECIMAL.match(text):
                return False, None
            return True, Decimal(text).quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP)
        if typ == "boolean":
            return (True, text == "true") if text in ("true", "false") else (False, None)
        if typ == "date":
            return True, date.fromisoformat(text)
        if typ == "timestamp":
            ts = datetime.fromisoformat(text)
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=SHANGHAI)
            return True, ts.astimezone(SHANGHAI).replace(tzinfo=None)  # Shanghai wall time
    except (ValueError, InvalidOperation):
        return False, None
    raise ValueError(typ)


def _valid(raw: dict, fields: list[dict]) -> dict | None:
    """Return the typed record, or None if any contract rule fails."""
    out = {}
    for f in fields:
        if f["type"] == "array<item>":
            continue
        ok, v = _parse(raw.get(f["name"]), f["type"])
        if not ok or (v is None and f.get("required")):
            return None
        if v is not None and f.get("enum") and str(v) not in [str(e) for e in f["enum"]]:
            return None
        if v is not None and (("min" in f and v < f["min"]) or ("max" in f and v > f["max"])):
            return None
        out[f["name"]] = v
    return out


def _records(path: Path, fmt: str):
    if fmt == "parquet":
        yield from pq.read_table(path).to_pylist()
        return
    with path.open(encoding="utf-8", newline="") as fh:
        if fmt == "jsonl":
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    yield rec
            return
        reader = csv.reader(fh)
        header = next(reader)
        for row in reader:
            if len(row) == len(header):
                yield dict(zip(header, row, strict=True))


def load_landing(landing: Path) -> dict[str, pd.DataFrame]:
    """Every valid record of every entity, all versions (duplicates dropped)."""
    out = {}
    for entity, c in _contracts().items():
        fields = c["fields"]
        rows, seen = [], set()
        for path in sorted(landing.glob(f"{c['domain']}/{entity}/dt=*/*")):
            if path.name.startswith("."):
                continue
            for record in _records(path, c["format"]):
                raw = record
                if c["format"] == "parquet" and isinstance(raw.get("exported_at"), datetime):
                    raw = {**raw, "exported_at": raw["exported_at"].isoformat(),
                           "snapshot_date": raw["snapshot_date"].isoformat()}
                rec = _valid(raw, fields)
                if rec is None:
                    continue
                if c.get("item_fields"):
                    items = raw.get("items")
                    if not isinstance(items, list) or not items:
                        continue
                    typed = [_valid(i, c["item_fields"]) if isinstance(i, dict) else None
                             for i in items]
                    if any(t is None for t in typed):
                        continue
                    rec["items"] = typed
                ident = tuple(rec[k] for k in c["key"]) + (rec[c["version"]],)
                if ident in seen:
                    continue
                seen.add(ident)
                rows.append(rec)
        out[entity] = pd.DataFrame(rows)
    return out


def _latest(df: pd.DataFrame, key: list[str], version: str) -> pd.DataFrame:
    return df.sort_values(version).drop_duplicates(key, keep="last").reset_index(drop=True)


def _cents(d) -> int | None:
    return None if d is None else int((Decimal(d) * 100).to_integral_value(ROUND_HALF_UP))


def _round_div(num: int, den: int) -> int:
    """num / den rounded half-up to an integer (both non-negative or exact)."""
    q = Decimal(num) / Decimal(den)
    return int(q.to_integral_value(ROUND_HALF_UP))


# --- the facts ------------------------------------------------------------------------------
def prepare(landing: Path) -> dict[str, pd.DataFrame]:
    """Typed, deduplicated tables with money in cents and versions for the SCD2 entities."""
    data = load_landing(landing)
    fx = _latest(data["fx_rates"], ["rate_date", "currency"], "published_at")
    rates = {}
    for cur, g in fx.sort_values("rate_date").groupby("currency"):
        rates[cur] = (list(g["rate_date"]), list(g["cny_per_unit"]))

    def rate(currency: str, day: date) -> Decimal | None:
        if currency == "CNY":
            return Decimal(1)
        days, values = rates.get(currency, ([], []))
        import bisect

        i = bisect.bisect_right(days, day) - 1
        return values[i] if i >= 0 else None

    orders = _latest(data["orders"], ["order_id"], "updated_at")
    lines, order_rows = [], []
    for o in orders.itertuples(index=False):
        paid = o.paid_at.to_pydatetime() if pd.notna(o.paid_at) else None
        day = (paid or o.created_at.to_pydatetime()).date()
        r = rate(o.currency, day)
        gmv = 0
        for it in o.items:
            amount = it["qty"] * it["unit_price"] - it["discount"]
            line_gmv = _cents((amount * r).quantize(Decimal("0.01"), ROUND_HALF_UP))
            gmv += line_gmv
            lines.append({"order_id": o.order_id, "line_no": it["line_no"],
                          "sku_id": it["sku_id"], "qty": it["qty"], "gmv": line_gmv})
        order_rows.append({"order_id": o.order_id, "user_id": o.user_id,
                           "merchant_id": o.merchant_id, "channel": o.channel,
                           "created_at": o.created_at, "paid_at": paid, "rate": r,
                           "gmv": gmv})
    orders_df = pd.DataFrame(order_rows)
    rate_of = dict(zip(orders_df["order_id"], orders_df["rate"], strict=True))
    orders_df = orders_df.drop(columns="rate")
    orders_df["paid_at"] = pd.to_datetime(orders_df["paid_at"])
    refunds = _latest(data["refunds"], ["refund_id"], "updated_at")
    refunds = refunds[refunds["order_id"].isin(rate_of)]
    refunds_df = pd.DataFrame({
        "refund_id": refunds["refund_id"], "order_id": refunds["order_id"],
        "refunded_at": refunds["refunded_at"],
        "amount": [_cents((a * rate_of[o]).quantize(Decimal("0.01"), ROUND_HALF_UP))
                   for a, o in zip(refunds["amount"], refunds["order_id"], strict=True)],
    })
    ship = _latest(data["shipments"], ["shipment_id"], "updated_at")
    ship_df = pd.DataFrame({
        "shipment_id": ship["shipment_id"], "order_id": ship["order_id"],
        "shipped_at": ship["shipped_at"], "promised_at": ship["promised_at"],
        "delivered_at": pd.to_datetime(ship["delivered_at"]),
        "cost": [_cents(c) for c in ship["logistics_cost_cny"]],
    })
    inv = _latest(data["inventory"], ["snapshot_date", "sku_id", "warehouse_id"], "exported_at")
    spend = _latest(data["spend"], ["spend_id"], "updated_at")
    spend_df = pd.DataFrame({"spend_date": spend["spend_date"], "channel": spend["channel"],
                             "pilot_category": spend["pilot_category"],
                             "amount": [_cents(a) for a in spend["amount_cny"]]})

    def versions(df: pd.DataFrame, key: str) -> pd.DataFrame:
        df = df.sort_values([key, "updated_at"]).reset_index(drop=True)
        nxt = df.groupby(key)["updated_at"].shift(-1)
        first = ~df[key].duplicated()
        df["valid_from"] = df["updated_at"].where(~first, datetime(1900, 1, 1))
        df["valid_to"] = nxt.where(nxt.notna(), datetime(2200, 1, 1))
        return df

    users = versions(data["users"].drop(columns=["phone", "id_card_no", "email"]), "user_id")
    merchants = versions(data["merchants"], "merchant_id")
    skus = versions(data["skus"], "sku_id")
    skus["unit_cost"] = [_cents(c) for c in skus["unit_cost_cny"]]
    cats = _latest(data["categories"], ["category_l2"], "updated_at")
    skus = skus.merge(cats[["category_l2", "is_smart_device"]], on="category_l2", how="left")
    inv_df = pd.DataFrame({"snapshot_date": inv["snapshot_date"], "sku_id": inv["sku_id"],
                           "qty": inv["qty_on_hand"]})
    # the rest of the plan's feeds: each record's latest version
    audits = _latest(data["listing_audits"], ["audit_id"], "updated_at")
    experiments = _latest(data["experiments"], ["experiment_id"], "updated_at")
    assignments = _latest(data["assignments"], ["experiment_id", "user_id"], "assigned_at")
    exposures = data["exposures"].drop_duplicates(["experiment_id", "user_id", "exposed_at"])
    return {"audits": audits[["audit_id", "sku_id", "audited_at", "matches_description"]],
            "experiments": experiments[["experiment_id", "ended_at"]],
            "assignments": assignments[["experiment_id", "user_id", "variant"]],
            "exposures": exposures[["experiment_id", "user_id", "exposed_at"]],
            "orders": orders_df, "lines": pd.DataFrame(lines), "refunds": refunds_df,
            "shipments": ship_df, "inventory": inv_df, "spend": spend_df, "users": users,
            "merchants": merchants,
            "skus": skus[["sku_id", "spu_id", "merchant_id", "category_l1", "is_nonstandard",
                          "pilot_category", "unit_cost", "is_smart_device", "valid_from",
                          "valid_to"]]}



# --- the KPIs, in DuckDB --------------------------------------------------------------------
# Scope expansion: "all", then one scope dimension at a time. {t} is a table or a subquery.
def _order_scopes(t: str) -> str:
    return f"""
    select *, 'all' as st, 'all' as sv from {t}
    union all select *, 'segment', 'gen_z' from {t} where is_gen_z
    union all select *, 'segment', 'silver_60_plus' from {t} where is_60_plus
    union all select *, 'segment', 'gen_z_pet_owner' from {t} where is_pet_genz
    union all select *, 'segment', 'lower_tier_city' from {t} where is_lower
    union all select *, 'segment', 'silver_tech_enthusiast' from {t} where is_silver_tech
    union all select *, 'city_tier', city_tier from {t} where city_tier is not null
    union all select *, 'channel', channel from {t}
    union all select *, 'merchant_size', merchant_size from {t} where merchant_size is not null"""


def _event_attr(t: str) -> str:
    """A paid order's event (column `at`) with the order's scope attributes as they were at
    `at`: its channel, the merchant's size and the buyer's flags (age in the event's week)."""
    return f"""(select e.*, o.channel, m.size as merchant_size,
       {_user_flags('u', 'sunday(cast(e.at as date))')}
    from {t} e join paid_orders o on e.order_id = o.order_id
    left join users u on {_as_of('u', 'user_id', 'o.user_id', 'e.at')}
    left join merchants m on {_as_of('m', 'merchant_id', 'o.merchant_id', 'e.at')})"""


def _line_scopes(t: str) -> str:
    return _order_scopes(t) + f"""
    union all select *, 'category', category_l1 from {t} where category_l1 is not null
    union all select *, 'pilot_category', pilot_category from {t}
        where pilot_category is not null"""


def _as_of(alias: str, key: str, other_key: str, at: str) -> str:
    return (f"{alias}.{key} = {other_key} and {at} >= {alias}.valid_from "
            f"and {at} < {alias}.valid_to")


def _user_flags(u: str, sunday: str) -> str:
    return f"""{u}.city_tier,
       coalesce({u}.birth_year between 1995 and 2009, false) as is_gen_z,
       coalesce(year({sunday}) - {u}.birth_year >= 60, false) as is_60_plus,
       coalesce({u}.birth_year between 1995 and 2009 and {u}.is_pet_owner, false) as is_pet_genz,
       coalesce({u}.city_tier in ('tier3', 'tier4', 'tier5'), false) as is_lower,
       coalesce(year({sunday}) - {u}.birth_year >= 60, false) and exists (
           select 1 from silver_tech st where st.user_id = {u}.user_id
           and st.sunday = {sunday}) as is_silver_tech"""


def _spread(days: int, date_col: str) -> str:
    """The Sundays whose `days`-day window holds `date_col` (as rows of column s_end)."""
    return (f"unnest(range(sunday({date_col}), {date_col} + interval {days} day, "
            f"interval 7 day)) as t(s_end_ts)")


SETUP = """
create or replace macro end_of_day(d) as
    cast(d + interval 1 day as timestamp) - interval 1 microsecond;
create or replace macro week_label(d) as strftime(d, '%G-W%V');
create or replace macro sunday(d) as cast(d + to_days(cast((7 - isodow(d)) % 7 as integer))
    as date);
create table bounds as
select min(cast(created_at as date)) as first_day, max(cast(created_at as date)) as last_day
from orders;
create table weeks as
select week_label(d) as wk, min(sunday(d)) as week_end, min(isoyear(d)) as iso_year,
       min(week(d)) as iso_week
from (select cast(unnest(range(first_day, last_day + interval 1 day, interval 1 day)) as date)
      as d from bounds)
group by 1
having min(sunday(d)) <= (select last_day from bounds);  -- the week in progress: not published
"""


def _statements() -> list[str]:
    # silver tech enthusiasts (PLAN.md): smart-device purchases (the product as it was when
    # paid) on 2+ distinct days in the 365 days ending on a Sunday; 60+ is checked per use
    silver_tech = f"""
create table silver_tech as
select user_id, cast(s_end_ts as date) as sunday
from (select distinct o.user_id, cast(o.paid_at as date) as d
      from lines l
      join orders o on l.order_id = o.order_id and o.paid_at is not null
      join skus p on {_as_of('p', 'sku_id', 'l.sku_id', 'o.paid_at')}
      where p.is_smart_device) s, {_spread(365, 's.d')}
group by 1, 2
having count(distinct d) >= 2"""
    paid = f"""
create table paid as
select l.order_id, l.line_no, l.sku_id, l.qty, l.gmv, o.user_id, o.merchant_id, o.channel,
       o.paid_at, cast(o.paid_at as date) as paid_date,
       week_label(cast(o.paid_at as date)) as wk,
       p.spu_id, p.category_l1, coalesce(p.is_nonstandard, false) as is_nonstandard,
       p.pilot_category, coalesce(p.is_smart_device, false) as is_smart_device,
       l.qty * p.unit_cost as cogs, m.size as merchant_size,
       {_user_flags('u', 'sunday(cast(o.paid_at as date))')}
from lines l
join orders o on l.order_id = o.order_id and o.paid_at is not null
left join skus p on {_as_of('p', 'sku_id', 'l.sku_id', 'o.paid_at')}
left join merchants m on {_as_of('m', 'merchant_id', 'o.merchant_id', 'o.paid_at')}
left join users u on {_as_of('u', 'user_id', 'o.user_id', 'o.paid_at')}"""
    window_attr = f"""
create table window_attr as
select s.s_end, s.user_id, s.merchant_id, s.paid_date, s.channel, p.category_l1,
       p.pilot_category, m.size as merchant_size,
       {_user_flags('u', 's.s_end')}
from (select d.*, cast(s_end_ts as date) as s_end
      from (select distinct user_id, merchant_id, sku_id, channel, paid_date from paid) d,
           {_spread(90, 'd.paid_date')}) s
left join users u on {_as_of('u', 'user_id', 's.user_id', 'end_of_day(s.s_end)')}
left join merchants m on {_as_of('m', 'merchant_id', 's.merchant_id', 'end_of_day(s.s_end)')}
left join skus p on {_as_of('p', 'sku_id', 's.sku_id', 'end_of_day(s.s_end)')}"""
    return [
        silver_tech,
        paid,
        f"create table paid_scoped as {_line_scopes('paid')}",
        """create table paid_orders as
select order_id, min(user_id) as user_id, min(merchant_id) as merchant_id, min(wk) as wk,
       min(channel) as channel, min(merchant_size) as merchant_size, min(city_tier) as city_tier,
       bool_or(is_gen_z) as is_gen_z, bool_or(is_60_plus) as is_60_plus,
       bool_or(is_pet_genz) as is_pet_genz, bool_or(is_lower) as is_lower,
       bool_or(is_silver_tech) as is_silver_tech, sum(gmv) as gmv
from paid group by order_id""",
        f"create table orders_scoped as {_order_scopes('paid_orders')}",
        # refunds, shipments and deliveries: the order's scopes as they were when each happened
        "create table refunds_scoped as " + _order_scopes(_event_attr(
            "(select *, cast(refunded_at as timestamp) as at from refunds)")),
        """create table shipments_first as
select s.*, o.gmv as order_gmv,
       row_number() over (partition by s.order_id order by s.shipped_at, s.shipment_id) = 1
           as is_first
from shipments s join paid_orders o on s.order_id = o.order_id""",
        "create table shipped_scoped as " + _order_scopes(_event_attr(
            "(select *, cast(shipped_at as timestamp) as at from shipments_first)")),
        "create table delivered_scoped as " + _order_scopes(_event_attr(
            "(select *, cast(delivered_at as timestamp) as at from shipments_first "
            "where delivered_at is not null)")),
        # GMV, refunds, orders, shares
        """create table gmv as
with g as (select wk, st, sv, sum(gmv) as gmv, count(distinct order_id) as n,
                  sum(case when is_nonstandard then gmv else 0 end) as nonstd,
                  sum(case when channel in ('live_stream', 'kol', 'community_group')
                      then gmv else 0 end) as emerging
           from paid_scoped group by all),
r as (select week_label(cast(refunded_at as date)) as wk, st, sv, sum(amount) as refunds
      from refunds_scoped group by all),
k as (select wk, st, sv from g union select wk, st, sv from r)
select k.wk, k.st, k.sv, coalesce(g.gmv, 0) as gmv, coalesce(g.n, 0) as n,
       case when k.st not in ('category', 'pilot_category') then coalesce(r.refunds, 0) end
           as refunds, g.nonstd, g.emerging, g.gmv as line_gmv
from k left join g using (wk, st, sv) left join r using (wk, st, sv)""",
        # repurchase (customers; SMB customer-merchant pairs)
        window_attr,
        f"""create table window_days as
select distinct s_end, st, sv, user_id, merchant_id, paid_date
from ({_line_scopes('window_attr')})""",
        """create table repurchase as
select s_end, st, sv, count_if(days >= 2) as num, count(*) as den
from (select s_end, st, sv, user_id, count(distinct paid_date) as days
      from window_days group by all) group by all""",
        """create table smb_repurchase as
select s_end, 'all' as st, 'all' as sv, count_if(days >= 2) as num, count(*) as den
from (select s_end, user_id, merchant_id, count(distinct paid_date) as days from window_days
      where st = 'merchant_size' and sv = 'SMB' group by all) group by all""",
        # new customers, CAC
        """create table first_paid as
select user_id, order_id, paid_at, channel, cast(paid_at as date) as first_date
from (select *, row_number() over (partition by user_id order by paid_at, order_id) as rk
      from orders where paid_at is not null) where rk = 1""",
        """create table cac as
with n as (select week_label(first_date) as wk, 'all' as st, 'all' as sv, count(*) as new
           from first_paid group by all
           union all select week_label(first_date), 'channel', channel, count(*)
           from first_paid group by all),
s as (select week_label(spend_date) as wk, 'all' as st, 'all' as sv, sum(amount) as spend
      from spend group by all
      union all select week_label(spend_date), 'channel', channel, sum(amount)
      from spend group by all),
k as (select wk, st, sv from n union select wk, st, sv from s)
select k.*, coalesce(s.spend, 0) as spend, s.spend as spend_reported,
       coalesce(n.new, 0) as new
from k left join n using (wk, st, sv) left join s using (wk, st, sv)""",
        # LTV cohorts
        """create table ltv as
with v as (
    select f.user_id, date_trunc('month', f.first_date) as cohort, f.channel,
           sum(case when o.paid_at < f.paid_at + interval 90 day then o.gmv else 0 end) as g90,
           sum(o.gmv) as g365
    from first_paid f join orders o on o.user_id = f.user_id and o.paid_at is not null
        and o.paid_at >= f.paid_at and o.paid_at < f.paid_at + interval 365 day
    group by all),
sc as (select cohort, 'all' as st, 'all' as sv, g90, g365 from v
       union all select cohort, 'channel', channel, g90, g365 from v),
c as (select cohort, st, sv, count(*) as customers, sum(g90) as g90, sum(g365) as g365
      from sc group by all),
sp as (select date_trunc('month', spend_date) as cohort, 'all' as st, 'all' as sv,
              sum(amount) as spend from spend group by all
       union all select date_trunc('month', spend_date), 'channel', channel, sum(amount)
       from spend group by all)
select c.*, coalesce(sp.spend, 0) as spend from c left join sp using (cohort, st, sv)""",
        # SKU overlap
        """create table overlap as
select wk, st, sv, count_if(m >= 2) as num, count(*) as den
from (select wk, st, sv, spu_id, count(distinct merchant_id) as m from paid_scoped
      where st in ('all', 'category') group by all) group by all""",
        # logistics
        """create table logistics as
with a as (select week_label(cast(shipped_at as date)) as wk, st, sv, sum(cost) as cost,
             sum(case when is_first then order_gmv else 0 end) as gmv
      from shipped_scoped group by all),
b as (select week_label(cast(delivered_at as date)) as wk, st, sv,
             count_if(delivered_at <= promised_at) as on_time, count(*) as delivered
      from delivered_scoped group by all),
k as (select wk, st, sv from a union select wk, st, sv from b)
select k.*, a.cost, a.gmv, b.on_time, b.delivered
from k left join a using (wk, st, sv) left join b using (wk, st, sv)""",
        # inventory turnover
        f"""create table turnover as
with iv as (
    select p.merchant_id, i.snapshot_date as d, sum(i.qty * p.unit_cost) as value
    from inventory i left join skus p
        on {_as_of('p', 'sku_id', 'i.sku_id', 'cast(i.snapshot_date as timestamp)')}
    group by all),
cg as (select merchant_id, paid_date as d, sum(cogs) as cogs from paid group by all),
ivw as (select merchant_id, cast(s_end_ts as date) as s_end, sum(value) as value
        from iv, {_spread(30, 'iv.d')} group by all),
cgw as (select merchant_id, cast(s_end_ts as date) as s_end, sum(cogs) as cogs
        from cg, {_spread(30, 'cg.d')} group by all),
pm as (select ivw.merchant_id, ivw.s_end, coalesce(cgw.cogs, 0) as cogs, ivw.value, m.size
       from ivw left join cgw using (merchant_id, s_end)
       left join merchants m on {_as_of('m', 'merchant_id', 'ivw.merchant_id',
                                        'end_of_day(ivw.s_end)')})
select s_end, 'all' as st, 'all' as sv, sum(cogs) as cogs, sum(value) as value from pm
group by all
union all select s_end, 'merchant_size', size, sum(cogs), sum(value) from pm
where size is not null group by all""",
        # first-year survival
        """create table survival as
with m as (select * from merchants where valid_to = timestamp '2200-01-01'),
late as (select distinct m.merchant_id from m join orders o on o.merchant_id = m.merchant_id
         and o.paid_at is not null
         and cast(o.paid_at as date) between cast(m.onboarded_at as date) + 335
             and cast(m.onboarded_at as date) + 365)
select date_trunc('month', cast(m.onboarded_at as date)) as cohort, count(*) as merchants,
       count_if((m.closed_at is null
                 or cast(m.closed_at as date) > cast(m.onboarded_at as date) + 365)
                and late.merchant_id is not null) as survivors
from m cross join bounds left join late using (merchant_id)
where cast(m.onboarded_at as date) >= bounds.first_day group by all""",
        # pilots (GMV, COGS, spend; the logistics allocation is done in Python, exactly)
        """create table pilot as
with lines as (select wk, pilot_category as sv, gmv, cogs from paid
               where pilot_category is not null
               union all select wk, 'all', gmv, cogs from paid where pilot_category is not null),
g as (select wk, sv, sum(gmv) as gmv, sum(cogs) as cogs from lines group by all),
sp as (select week_label(spend_date) as wk, pilot_category as sv, sum(amount) as spend
       from spend where pilot_category is not null group by all
       union all select week_label(spend_date), 'all', sum(amount) from spend
       where pilot_category is not null group by all)
select w.wk, w.iso_year, w.iso_week, v.sv, g.gmv, g.cogs, sp.spend
from weeks w
cross join (select unnest(['all', 'sustainable', 'silver_economy', 'second_hand', 'reserve'])
            as sv) v
left join g on g.wk = w.wk and g.sv = v.sv
left join sp on sp.wk = w.wk and sp.sv = v.sv""",
        """create table pilot_lines as
select p.wk, p.pilot_category, p.gmv, o.gmv as order_gmv, coalesce(c.cost, 0) as order_cost
from paid p join paid_orders o using (order_id)
left join (select order_id, sum(cost) as cost from shipments group by all) c using (order_id)
where p.pilot_category is not null""",
        # smart devices among users 60+
        f"""create table smart as
with ud as (
    select p.user_id, p.paid_date, u.birth_year, bool_or(p.is_smart_device) as smart
    from paid p join (select user_id, min(birth_year) as birth_year from users group by all) u
        using (user_id)
    where u.birth_year <= (select year(max(week_end)) from weeks) - 60 group by all),
pu as (select cast(s_end_ts as date) as s_end, user_id, bool_or(smart) as smart
       from ud, {_spread(365, 'ud.paid_date')}
       where year(cast(s_end_ts as date)) - birth_year >= 60 group by all)
select s_end, count_if(smart) as num, count(*) as den from pu group by all""",
        # merchant tiers
        f"""create table tiers as
with gm as (select merchant_id, cast(s_end_ts as date) as s_end, sum(gmv) as gmv
            from (select merchant_id, paid_date, sum(gmv) as gmv from paid group by all) x,
                 {_spread(90, 'x.paid_date')} group by all),
dl as (select o.merchant_id, cast(s.delivered_at as date) as d,
              count_if(s.delivered_at <= s.promised_at) as on_time, count(*) as n
       from shipments s join orders o using (order_id) where s.delivered_at is not null
       group by all),
ot as (select merchant_id, cast(s_end_ts as date) as s_end, sum(on_time) / sum(n) as rate
       from dl, {_spread(90, 'dl.d')} group by all),
rp as (select s_end, merchant_id, count_if(days >= 2) / count(*) as rate
       from (select s_end, merchant_id, user_id, count(distinct paid_date) as days
             from window_days where st = 'all' group by all) group by all),
g as (select w.wk, gm.merchant_id, m.size, gm.gmv, ot.rate as on_time,
             case when m.size = 'SMB' then rp.rate end as smb_rep,
             ntile(4) over (partition by w.wk, m.size order by gm.gmv desc, gm.merchant_id) as q
      from gm join weeks w on gm.s_end = w.week_end cross join bounds
      left join merchants m on {_as_of('m', 'merchant_id', 'gm.merchant_id',
                                       'end_of_day(w.week_end)')}
      left join ot on ot.merchant_id = gm.merchant_id and ot.s_end = gm.s_end
      left join rp on rp.merchant_id = gm.merchant_id and rp.s_end = gm.s_end
      where w.week_end - 89 >= bounds.first_day),
r as (select *, case when smb_rep is not null then ntile(4) over (
          partition by wk, smb_rep is not null order by smb_rep, merchant_id) end as rq
      from g)
select wk, ['S', 'A', 'B', 'C'][least(4, q + case when coalesce(on_time < 0.9, false)
           or coalesce(rq = 1, false) then 1 else 0 end)] as tier
from r""",
    ]


def reference_review(landing: Path) -> pd.DataFrame:
    """Every KPI row of the weekly review, computed from the landing files alone.

    Columns: iso_week_label, kpi, scope_type, scope_value, value (float or None), numerator
    and denominator (exact: Decimal CNY for money, int for counts, None where the mart has
    none).
    """
    t = prepare(landing)
    con = duckdb.connect()
    for name, df in t.items():
        con.register(f"{name}_df", df)
        con.execute(f"create table {name} as select * from {name}_df")
    con.execute(SETUP)
    for stmt in _statements():
        con.execute(stmt)
    return _review_rows(con)


def reference_quarterly_gmv(landing: Path) -> pd.DataFrame:
    """GMV per calendar quarter of the paid date and scope (all, category, pilot category as
    the product was when paid), from the landing files alone: quarter_label, scope_type,
    scope_value, gmv (Decimal CNY), and whether the orders' dates cover the whole quarter."""
    t = prepare(landing)
    con = duckdb.connect()
    for name, df in t.items():
        con.register(f"{name}_df", df)
        con.execute(f"create table {name} as select * from {name}_df")
    con.execute(SETUP)
    for stmt in _statements()[:2]:          # `silver_tech`, then `paid`: each paid line
        con.execute(stmt)
    rows = con.execute("""
        with q as (
            select year(paid_date) || 'Q' || quarter(paid_date) as quarter_label,
                   date_trunc('quarter', paid_date) as first_day, gmv, category_l1,
                   pilot_category
            from paid)
        select quarter_label, min(first_day) as first_day, 'all' as scope_type,
               'all' as scope_value, sum(gmv) as gmv from q group by 1
        union all
        select quarter_label, min(first_day), 'category', category_l1, sum(gmv) from q
        where category_l1 is not null group by 1, 4
        union all
        select quarter_label, min(first_day), 'pilot_category', pilot_category, sum(gmv)
        from q where pilot_category is not null group by 1, 4""").df()
    first, last = con.execute("select first_day, last_day from bounds").fetchone()
    rows["gmv"] = [_cny(int(c)) for c in rows["gmv"]]
    rows["first_day"] = pd.to_datetime(rows["first_day"]).dt.date
    rows["is_complete"] = [(f >= first) and (f + pd.DateOffset(months=3)).date()
                           - timedelta(days=1) <= last for f in rows["first_day"]]
    return rows


KEYS = ("iso_week_label", "kpi", "scope_type", "scope_value")


def review_differences(want: list[dict], got: list[dict]) -> dict[str, list]:
    """Rows of the weekly review compared by their keys: numerators and denominators exactly
    (money to the cent, counts), values up to float rounding. Returns the keys only in one
    and the cells that differ (each list empty when the two agree)."""
    import math

    w = {tuple(r[k] for k in KEYS): r for r in want}
    g = {tuple(r[k] for k in KEYS): r for r in got}

    def exact(x):
        return None if x is None else Decimal(str(x)).normalize()

    def close(a, b) -> bool:
        if a is None or b is None:
            return a is None and b is None
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)

    bad = []
    for key in sorted(set(w) & set(g)):
        a, b = w[key], g[key]
        if exact(a["numerator"]) != exact(b["numerator"]) or \
                exact(a["denominator"]) != exact(b["denominator"]):
            bad.append((key, "num/den", b["numerator"], a["numerator"], b["denominator"],
                        a["denominator"]))
        elif not close(a["value"], b["value"]):
            bad.append((key, "value", b["value"], a["value"]))
    return {"missing": sorted(set(w) - set(g)), "extra": sorted(set(g) - set(w)),
            "different": bad}


def _cny(cents) -> Decimal | None:
    return None if cents is None or pd.isna(cents) else Decimal(int(cents)) / 100


def _ratio(a, b) -> float | None:
    if a is None or b is None or pd.isna(a) or pd.isna(b) or b == 0:
        return None
    return float(Decimal(int(a)) / Decimal(int(b))) if float(a).is_integer() and float(
        b).is_integer() else float(a) / float(b)


def _alloc_cents(cost: int, gmv: int, order_gmv: int) -> int:
    """round(cost x gmv / order gmv, 2) with the quotient first held at 6 decimals (CNY)."""
    if order_gmv == 0:
        return 0
    q6 = (Decimal(cost) * Decimal(gmv) / (Decimal(order_gmv) * 100)).quantize(
        Decimal("0.000001"), ROUND_HALF_UP)
    return int((q6 * 100).to_integral_value(ROUND_HALF_UP))


def _review_rows(con) -> pd.DataFrame:
    def q(sql: str) -> list[dict]:
        return con.execute(sql).df().replace({float("nan"): None}).to_dict("records")

    def day(x) -> date:
        return x.date() if hasattr(x, "date") else x

    first_day, last_day = con.execute("select first_day, last_day from bounds").fetchone()
    weeks = {r["wk"]: r for r in q("select * from weeks")}
    by_end = {day(r["week_end"]): wk for wk, r in weeks.items()}
    order = sorted(weeks, key=lambda w: weeks[w]["week_end"])
    week_no = {wk: i + 1 for i, wk in enumerate(order)}
    rows: list[dict] = []

    def add(wk, kpi, st, sv, value, num, den):
        if wk in weeks:
            rows.append({"iso_week_label": wk, "kpi": kpi, "scope_type": st, "scope_value": sv,
                         "value": None if value is None else float(value),
                         "numerator": num, "denominator": den})

    # GMV family, shares, AOV uplift
    baseline: dict[tuple, list[int]] = {}
    gmv_rows = q("select * from gmv")
    for r in gmv_rows:
        wk, st, sv, g, n = r["wk"], r["st"], r["sv"], int(r["gmv"]), int(r["n"])
        add(wk, "gmv", st, sv, g / 100, _cny(g), None)
        if r["refunds"] is not None:
            net = g - int(r["refunds"])
            add(wk, "net_sales", st, sv, net / 100, _cny(net), None)
        add(wk, "paid_orders", st, sv, n, n, None)
        add(wk, "aov", st, sv, _round_div(g, n) / 100 if n else None, _cny(g), n)
        if r["line_gmv"] is not None:
            add(wk, "nonstandard_share", st, sv, _ratio(r["nonstd"], g), _cny(r["nonstd"]),
                _cny(g))
            if st != "channel":
                add(wk, "channel_penetration", st, sv, _ratio(r["emerging"], g),
                    _cny(r["emerging"]), _cny(g))
        if st in ("all", "segment") and wk in weeks and week_no[wk] <= 13:
            b = baseline.setdefault((st, sv), [0, 0])
            b[0] += g
            b[1] += n
    for r in gmv_rows:
        wk, st, sv, g, n = r["wk"], r["st"], r["sv"], int(r["gmv"]), int(r["n"])
        if st not in ("all", "segment") or wk not in weeks:
            continue
        bg, bn = baseline.get((st, sv), [0, 0])
        base = Decimal(bg) / Decimal(bn) if bn else None  # cents per order
        value = None
        if week_no[wk] > 13 and n and base:
            value = float((Decimal(g) / Decimal(n)) / base - 1)
        add(wk, "aov_uplift", st, sv, value, _cny(_round_div(g, n)) if n else None,
            _cny(int(base.to_integral_value(ROUND_HALF_UP))) if base is not None else None)

    # repurchase, SMB repurchase, smart devices (windows keyed by the Sunday)
    for table, kpi, days in (("repurchase", "repurchase_rate_90d", 90),
                             ("smb_repurchase", "smb_repurchase_rate_90d", 90)):
        for r in q(f"select * from {table}"):
            wk = by_end.get(day(r["s_end"]))
            covered = day(r["s_end"]) - timedelta(days=days - 1) >= day(first_day)
            add(wk, kpi, r["st"], r["sv"], _ratio(r["num"], r["den"]) if covered else None,
                int(r["num"]) if covered else None, int(r["den"]) if covered else None)
    smart = {day(r["s_end"]): r for r in q("select * from smart")}
    for wk, w in weeks.items():
        end = day(w["week_end"])
        covered = end - timedelta(days=364) >= day(first_day)
        r = smart.get(end) if covered else None
        add(wk, "smart_device_penetration_60plus", "all", "all",
            _ratio(r["num"], r["den"]) if r else None, int(r["num"]) if r else None,
            int(r["den"]) if r else None)

    # CAC and new customers
    for r in q("select * from cac"):
        spend, new = int(r["spend"]), int(r["new"])
        reported = r["spend_reported"] is not None  # no spend rows yet: CAC unknown, not 0
        add(r["wk"], "cac", r["st"], r["sv"],
            _round_div(spend, new) / 100 if new and reported else None, _cny(spend), new)
        add(r["wk"], "new_customers", r["st"], r["sv"], new, new, None)

    # LTV/CAC of the latest cohort covered by each week
    def month_end(m: date) -> date:
        nxt = (m.replace(day=28) + timedelta(days=4)).replace(day=1)
        return nxt - timedelta(days=1)

    ltv = q("select * from ltv")
    for wk, w in weeks.items():
        end = day(w["week_end"])
        for n, col in ((90, "g90"), (365, "g365")):
            for r in ltv:
                m = day(r["cohort"])
                nxt = month_end(m) + timedelta(days=1)
                if not (month_end(m) + timedelta(days=n) <= end < month_end(nxt)
                        + timedelta(days=n)):
                    continue
                covered = month_end(m) + timedelta(days=n) <= day(last_day)
                add(wk, f"ltv_cac_{n}d", r["st"], r["sv"],
                    _ratio(r[col], r["spend"]) if covered else None,
                    _cny(r[col]) if covered else None, _cny(r["spend"]))

    # SKU overlap, logistics, inventory turnover
    for r in q("select * from overlap"):
        add(r["wk"], "sku_overlap_rate", r["st"], r["sv"], _ratio(r["num"], r["den"]),
            int(r["num"]), int(r["den"]))
    for r in q("select * from logistics"):
        cost = int(r["cost"]) if r["cost"] is not None else None
        gmv = int(r["gmv"]) if r["gmv"] is not None else None
        add(r["wk"], "logistics_cost_share", r["st"], r["sv"], _ratio(cost, gmv),
            _cny(cost or 0), _cny(gmv or 0))
        on_time = int(r["on_time"]) if r["on_time"] is not None else 0
        delivered = int(r["delivered"]) if r["delivered"] is not None else 0
        add(r["wk"], "on_time_delivery_rate", r["st"], r["sv"],
            _ratio(on_time, delivered), on_time, delivered)
    for r in q("select * from turnover"):
        s_end = day(r["s_end"])
        covered = s_end - timedelta(days=29) >= day(first_day)
        cogs, value = int(r["cogs"]), int(r["value"])
        turnover = float(100 * Decimal(cogs) / (Decimal(value) / 30)) if covered and value \
            else None
        add(by_end.get(s_end), "inventory_turnover_pct", r["st"], r["sv"], turnover,
            _cny(cogs), _cny(_round_div(value, 30)))

    # listing match accuracy: audits by the week of audited_at, the product's and merchant's
    # versions at the audit
    for r in q("""
        with a as (
            select week_label(cast(a.audited_at as date)) as wk, a.matches_description as ok,
                   p.category_l1, p.pilot_category, m.size
            from audits a
            left join skus p on """ + _as_of("p", "sku_id", "a.sku_id", "a.audited_at") + """
            left join merchants m on """ + _as_of("m", "merchant_id", "p.merchant_id",
                                                 "a.audited_at") + """)
        select wk, st, sv, count_if(ok) as num, count(*) as den from (
            select wk, ok, 'all' as st, 'all' as sv from a
            union all select wk, ok, 'category', category_l1 from a where category_l1 is not null
            union all select wk, ok, 'pilot_category', pilot_category from a
                where pilot_category is not null
            union all select wk, ok, 'merchant_size', size from a where size is not null)
        group by 1, 2, 3"""):
        add(r["wk"], "listing_accuracy", r["st"], r["sv"], _ratio(r["num"], r["den"]),
            int(r["num"]), int(r["den"]))

    # A/B tests: the treatment's conversion (a paid order within 7 days of the first exposure)
    # in the week of the last instant a conversion can count (ended_at + 7 days)
    for r in q("""
        with first as (
            select e.experiment_id, e.user_id, min(e.exposed_at) as at
            from exposures e
            join assignments s on e.experiment_id = s.experiment_id and e.user_id = s.user_id
                and s.variant = 'treatment'
            group by 1, 2),
        converted as (
            select f.experiment_id, f.user_id, bool_or(o.paid_at >= f.at
                   and o.paid_at < f.at + interval 7 day) as hit
            from first f left join orders o on f.user_id = o.user_id and o.paid_at is not null
            group by 1, 2)
        select c.experiment_id,
               week_label(cast(x.ended_at + interval 7 day - interval 1 microsecond as date))
                   as wk,
               count_if(coalesce(c.hit, false)) as num, count(*) as den
        from converted c join experiments x on c.experiment_id = x.experiment_id
        where x.ended_at is not null
        group by 1, 2"""):
        add(r["wk"], "ab_treatment_conversion", "experiment", r["experiment_id"],
            _ratio(r["num"], r["den"]), int(r["num"]), int(r["den"]))

    # first-year survival of the latest cohort whose day 365 has passed
    survival = q("select * from survival")
    for wk, w in weeks.items():
        end = day(w["week_end"])
        for r in survival:
            m = day(r["cohort"])
            nxt = month_end(m) + timedelta(days=1)
            if month_end(m) + timedelta(days=365) <= end < month_end(nxt) + timedelta(days=365):
                covered = month_end(m) + timedelta(days=365) <= day(last_day)
                add(wk, "first_year_survival", "all", "all",
                    _ratio(r["survivors"], r["merchants"]) if covered else None,
                    int(r["survivors"]) if covered else None, int(r["merchants"]))

    # pilots
    alloc: dict[tuple, int] = {}
    for r in q("select * from pilot_lines"):
        cents = _alloc_cents(int(r["order_cost"]), int(r["gmv"]), int(r["order_gmv"]))
        for sv in (r["pilot_category"], "all"):
            alloc[(r["wk"], sv)] = alloc.get((r["wk"], sv), 0) + cents
    pilot = {(r["wk"], r["sv"]): r for r in q("select * from pilot")}
    by_year_week = {(r["iso_year"], r["iso_week"], r["sv"]): r for r in pilot.values()}
    for (wk, sv), r in pilot.items():
        g = int(r["gmv"]) if r["gmv"] is not None else None
        total = pilot[(wk, "all")]["gmv"]
        spend_total = pilot[(wk, "all")]["spend"]
        spend = int(r["spend"]) if r["spend"] is not None else 0
        if sv != "all":
            add(wk, "budget_split", "pilot_category", sv, _ratio(spend, spend_total),
                _cny(spend), None)
        if sv == "reserve":
            continue
        add(wk, "pilot_gmv", "pilot_category", sv, (g or 0) / 100, _cny(g or 0), None)
        ly = by_year_week.get((r["iso_year"] - 1, r["iso_week"], sv))
        ly_gmv = int(ly["gmv"]) if ly is not None and ly["gmv"] is not None else None
        yoy = None
        if ly is not None and g is not None and ly_gmv:
            yoy = float(Decimal(g) / Decimal(ly_gmv) - 1)
        add(wk, "pilot_gmv_yoy_growth", "pilot_category", sv, yoy, _cny(g or 0), _cny(ly_gmv))
        cogs = int(r["cogs"]) if r["cogs"] is not None else 0
        logistics = alloc.get((wk, sv), 0)
        margin = (g or 0) - cogs - logistics
        add(wk, "pilot_gross_margin_rate", "pilot_category", sv,
            _ratio(margin, g) if g else None, _cny(margin), _cny(g or 0))
        if sv != "all":
            add(wk, "pilot_gmv_split", "pilot_category", sv, _ratio(g or 0, total),
                _cny(g or 0), None)

    # merchant tiers
    for r in q("select wk, tier, count(*) as n from tiers group by all"):
        add(r["wk"], "merchants_in_tier", "merchant_tier", r["tier"], int(r["n"]), int(r["n"]),
            None)
    return pd.DataFrame(rows, dtype=object)
