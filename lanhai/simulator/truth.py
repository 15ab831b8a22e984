"""Compute the KPIs of the clean simulated world, straight from the simulator's own arrays.

These are the planted truths the manifest carries: they never touch the landing files or the
pipeline, so a mart that agrees with them agrees with an independent computation.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from lanhai.simulator import world as W
from lanhai.simulator.model import DAY, SHANGHAI_OFFSET, Clean


def _local_day(ts: np.ndarray, world: Clean) -> np.ndarray:
    return (ts + SHANGHAI_OFFSET) // DAY - (world.t0() + SHANGHAI_OFFSET) // DAY


def _weeks(world: Clean) -> pd.DataFrame:
    """Return the complete ISO weeks of the window: week label, first and last day index."""
    dates = pd.date_range(world.start, periods=world.days, freq="D")
    iso = dates.isocalendar()
    frame = pd.DataFrame({"day": np.arange(world.days), "week": [
        f"{y}-W{w:02d}" for y, w in zip(iso["year"], iso["week"], strict=True)]})
    weeks = frame.groupby("week")["day"].agg(["min", "max", "count"]).reset_index()
    weeks = weeks[weeks["count"] == 7].rename(columns={"min": "first_day", "max": "last_day"})
    return weeks.drop(columns="count").sort_values("first_day").reset_index(drop=True)


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def weekly_truths(world: Clean) -> pd.DataFrame:
    """Return one row per complete ISO week with the planted KPI values."""
    o = world.orders
    it = world.items
    paid = o[o["paid"]].copy()
    paid["paid_day"] = _local_day(paid["paid_at"].to_numpy(), world)
    weeks = _weeks(world)
    day_to_week = np.full(world.days, "", dtype=object)
    for row in weeks.itertuples():
        day_to_week[row.first_day:row.last_day + 1] = row.week
    paid["week"] = day_to_week[paid["paid_day"].to_numpy()]
    skus = world.extra["sku_frame"]
    lines = it.merge(paid[["order_id", "week", "paid_day", "channel", "merchant", "user"]],
                     on="order_id")
    lines = lines.merge(skus[["sku_id", "spu_id", "category_l1", "is_nonstandard"]], on="sku_id")
    gmv = lines.groupby("week")["gmv_cents"].sum()
    orders_n = paid.groupby("week")["order_id"].count()
    nonstd = lines[lines["is_nonstandard"]].groupby("week")["gmv_cents"].sum()
    emerging = lines[lines["channel"].isin(W.EMERGING)].groupby("week")["gmv_cents"].sum()

    refunds = world.tables["refunds"]
    r_week = day_to_week[_local_day(refunds["refunded_at"].to_numpy(), world)]
    refund_cny = pd.Series(refunds["_cny_cents"].to_numpy()).groupby(r_week).sum()

    first = paid.sort_values(["paid_at", "order_id"]).drop_duplicates("user")
    new_customers = first.groupby("week")["user"].count()
    spend = world.tables["spend"]
    spend_week = pd.Series(spend["amount_cents"].to_numpy()).groupby(
        day_to_week[spend["spend_day"].to_numpy()]).sum()

    ship = world.tables["shipments"].drop_duplicates("shipment_id", keep="last")
    ship_day = _local_day(ship["shipped_at"].to_numpy(), world)
    ship_week = pd.Series(day_to_week[np.clip(ship_day, 0, world.days - 1)], index=ship.index)
    cost_week = ship["logistics_cost_cents"].groupby(ship_week).sum()
    first_ship = ship.assign(week=ship_week).sort_values(["shipped_at", "shipment_id"])
    first_ship = first_ship.drop_duplicates("order_id").merge(o[["order_id", "gmv_cents"]],
                                                              on="order_id")
    ship_gmv_week = first_ship.groupby("week")["gmv_cents"].sum()
    dl = ship[ship["delivered_at"] >= 0]
    dl_week = day_to_week[_local_day(dl["delivered_at"].to_numpy(), world)]
    on_time = (dl["delivered_at"] <= dl["promised_at"]).groupby(dl_week).agg(["sum", "count"])

    # 90-day repurchase, platform and SMB pairs, keyed by the week's last day.
    m_size_at = _merchant_size_lookup(world)
    smart_skus = set(skus.loc[skus["category_l1"] == "smart_devices", "sku_id"])
    paid_days = paid[["user", "merchant", "paid_day", "order_id"]]
    smart_orders = set(lines.loc[lines["sku_id"].isin(smart_skus), "order_id"])
    birth = world.extra["birth_year"]
    rows = []
    for wk in weeks.itertuples():
        end = wk.last_day
        rec = {"week": wk.week}
        g = gmv.get(wk.week, 0)
        rec["gmv"] = g / 100
        rec["paid_orders"] = int(orders_n.get(wk.week, 0))
        rec["aov"] = _ratio(g / 100, rec["paid_orders"])
        rec["net_sales"] = (g - refund_cny.get(wk.week, 0)) / 100
        rec["nonstandard_share"] = _ratio(nonstd.get(wk.week, 0), g)
        rec["channel_penetration"] = _ratio(emerging.get(wk.week, 0), g)
        rec["new_customers"] = int(new_customers.get(wk.week, 0))
        rec["spend"] = spend_week.get(wk.week, 0) / 100
        rec["cac"] = _ratio(rec["spend"], rec["new_customers"])
        rec["logistics_cost_share"] = _ratio(cost_week.get(wk.week, 0),
                                             ship_gmv_week.get(wk.week, 0))
        ot = on_time.loc[wk.week] if wk.week in on_time.index else None
        rec["on_time_delivery"] = None if ot is None else _ratio(ot["sum"], ot["count"])
        if end - 89 >= 0:
            win = paid_days[(paid_days["paid_day"] > end - 90) & (paid_days["paid_day"] <= end)]
            per_user = win.groupby("user")["paid_day"].nunique()
            rec["repurchase_90d"] = _ratio((per_user >= 2).sum(), len(per_user))
            smb = win[m_size_at(win["merchant"].to_numpy(), end) == "SMB"]
            per_pair = smb.groupby(["user", "merchant"])["paid_day"].nunique()
            rec["smb_repurchase_90d"] = _ratio((per_pair >= 2).sum(), len(per_pair))
        else:
            rec["repurchase_90d"] = rec["smb_repurchase_90d"] = None
        if end - 364 >= 0:
            year = (pd.Timestamp(world.start) + timedelta(days=int(end))).year
            win = paid_days[(paid_days["paid_day"] > end - 365) & (paid_days["paid_day"] <= end)]
            silver = win[year - birth[win["user"].to_numpy()] >= 60]
            active = silver["user"].nunique()
            buyers = silver[silver["order_id"].isin(smart_orders)]["user"].nunique()
            rec["smart_device_penetration_60plus"] = _ratio(buyers, active)
        else:
            rec["smart_device_penetration_60plus"] = None
        wl = lines[lines["week"] == wk.week]
        for cat in ("3c_appliances", "beauty"):
            c = wl[wl["category_l1"] == cat].groupby("spu_id")["merchant"].nunique()
            rec[f"sku_overlap_{cat}"] = _ratio((c >= 2).sum(), len(c))
        rows.append(rec)
    return pd.DataFrame(rows)


def _merchant_size_lookup(world: Clean):
    """Return f(merchant_index_array, day) -> size as it was on that day."""
    base = world.extra["m_size"]
    grow_day = world.extra["grow_day"]

    def size_at(merchants: np.ndarray, day: int) -> np.ndarray:
        grown = (grow_day[merchants] >= 0) & (grow_day[merchants] <= day)
        return np.where(grown, "KA", base[merchants])

    return size_at


def survival_truths(world: Clean) -> pd.DataFrame:
    """Return first-year survival per onboarding-month cohort whose day 365 has passed."""
    onboard = world.extra["m_onboard"]
    close = world.extra["m_close"]
    o = world.orders[world.orders["paid"]]
    paid_day = _local_day(o["paid_at"].to_numpy(), world)
    merchant = o["merchant"].to_numpy()
    new = np.flatnonzero(onboard >= 0)
    months = (pd.Timestamp(world.start) + pd.to_timedelta(onboard[new], unit="D")).to_period("M")
    rows = []
    for month in sorted(set(months)):
        members = new[months == month]
        month_end = (month.end_time.normalize() - pd.Timestamp(world.start)).days
        if month_end + 365 > world.days - 1:
            continue
        alive = 0
        for m in members:
            d0 = onboard[m]
            if close[m] <= d0 + 365:
                continue
            sel = (merchant == m) & (paid_day >= d0 + 335) & (paid_day <= d0 + 365)
            alive += bool(sel.any())
        rows.append({"cohort_month": str(month), "merchants": len(members), "survivors": alive,
                     "survival": _ratio(alive, len(members))})
    return pd.DataFrame(rows)


def calibration_report(world: Clean, weekly: pd.DataFrame | None = None
                       ) -> dict[str, float | None]:
    """Return the plan baselines' KPIs averaged over the weeks where they are defined."""
    wk = weekly_truths(world) if weekly is None else weekly
    surv = survival_truths(world)
    late = wk.iloc[len(wk) // 3:]
    pooled = surv["survivors"].sum() / max(surv["merchants"].sum(), 1) if len(surv) else None
    return {
        "repurchase_90d": late["repurchase_90d"].dropna().mean(),
        "cac": late["spend"].sum() / max(late["new_customers"].sum(), 1),
        "logistics_cost_share": late["logistics_cost_share"].dropna().mean(),
        "sku_overlap_3c_appliances": late["sku_overlap_3c_appliances"].dropna().mean(),
        "sku_overlap_beauty": late["sku_overlap_beauty"].dropna().mean(),
        "first_year_survival": pooled,
        "channel_penetration": late["channel_penetration"].dropna().mean(),
        "nonstandard_share": late["nonstandard_share"].dropna().mean(),
        "smart_device_penetration_60plus": wk["smart_device_penetration_60plus"].dropna().mean(),
        "smb_repurchase_90d": late["smb_repurchase_90d"].dropna().mean(),
        "on_time_delivery": late["on_time_delivery"].dropna().mean(),
        "paid_orders": int(wk["paid_orders"].sum()),
    }
