"""Compute the KPIs of the clean simulated world, straight from the simulator's own arrays.

These are the planted truths the manifest carries: they never touch the landing files or the
pipeline, so a mart that agrees with them agrees with an independent computation.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from lanhai.simulator import world as W
from lanhai.simulator.model import DAY, SHANGHAI_OFFSET, Clean, first_paid_orders


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
    """Return one row per complete ISO week with the planted KPI values.

    Everything is keyed by numbers (order, SKU, merchant positions; weeks as indexes into the
    complete weeks, -1 outside them), so that a large world's truths stay in memory."""
    o = world.orders
    it = world.items
    weeks = _weeks(world)
    day_week = np.full(world.days, -1, dtype=np.int64)
    for i, row in enumerate(weeks.itertuples()):
        day_week[row.first_day:row.last_day + 1] = i
    paid_mask = o["paid"].to_numpy()
    paid_o = np.flatnonzero(paid_mask)  # paid orders in id order
    paid_at = o["paid_at"].to_numpy()[paid_o]
    paid_day = _local_day(paid_at, world)
    p_week = day_week[paid_day]
    o_week = np.full(len(o), -1, dtype=np.int64)
    o_week[paid_o] = p_week
    skus = world.extra["sku_frame"]
    li_o = it["o"].to_numpy()
    on_paid = paid_mask[li_o]
    li_o = li_o[on_paid]
    li_sku = it["sku"].to_numpy()[on_paid]
    li_gmv = it["gmv_cents"].to_numpy()[on_paid]
    li_week = o_week[li_o]
    li_l1 = skus["category_l1"].to_numpy()[li_sku]
    gmv = pd.Series(li_gmv).groupby(li_week).sum()
    orders_n = pd.Series(p_week).value_counts()
    nonstd_line = skus["is_nonstandard"].to_numpy()[li_sku]
    nonstd = pd.Series(li_gmv[nonstd_line]).groupby(li_week[nonstd_line]).sum()
    emerging_codes = [W.CHANNELS.index(c) for c in W.EMERGING]
    emerging_line = np.isin(o["channel"].to_numpy()[li_o], emerging_codes)
    emerging = pd.Series(li_gmv[emerging_line]).groupby(li_week[emerging_line]).sum()

    refunds = world.tables["refunds"]
    r_week = day_week[_local_day(refunds["refunded_at"].to_numpy(), world)]
    refund_cny = pd.Series(refunds["_cny_cents"].to_numpy()).groupby(r_week).sum()

    p_user = o["user"].to_numpy()[paid_o].astype(np.int64)
    new_customers = pd.Series(o_week[first_paid_orders(o)]).value_counts()
    spend = world.tables["spend"]
    spend_week = pd.Series(spend["amount_cents"].to_numpy()).groupby(
        day_week[spend["spend_day"].to_numpy()]).sum()

    ship = world.tables["shipments"].drop_duplicates("_sh", keep="last")
    ship_day = _local_day(ship["shipped_at"].to_numpy(), world)
    ship_week = day_week[np.clip(ship_day, 0, world.days - 1)]
    cost_week = pd.Series(ship["logistics_cost_cents"].to_numpy()).groupby(ship_week).sum()
    by_ship = np.lexsort((ship["_sh"].to_numpy(), ship["shipped_at"].to_numpy()))
    ship_o = ship["_o"].to_numpy()[by_ship]
    _, first_ship = np.unique(ship_o, return_index=True)
    ship_gmv_week = pd.Series(o["gmv_cents"].to_numpy()[ship_o[first_ship]]).groupby(
        ship_week[by_ship][first_ship]).sum()
    dl = ship[ship["delivered_at"] >= 0]
    dl_week = day_week[_local_day(dl["delivered_at"].to_numpy(), world)]
    on_time = pd.Series((dl["delivered_at"] <= dl["promised_at"]).to_numpy()).groupby(
        dl_week).agg(["sum", "count"])

    # Trailing-window counts (90-day repurchase, platform and SMB pairs; 365-day smart-device
    # penetration 60+), each evaluated at every week's last day.
    ends = weeks["last_day"].to_numpy()
    p_day = paid_day.astype(np.int64)
    p_merchant = o["merchant"].to_numpy()[paid_o].astype(np.int64)
    active90, repeat90 = _window_counts(p_user, p_day, ends, 90)
    base, grow_day = world.extra["m_size"], world.extra["grow_day"]
    smb = base[p_merchant] == "SMB"  # and still SMB at the window's end: before it grew
    cap = np.where(grow_day[p_merchant] >= 0, grow_day[p_merchant], np.iinfo(np.int64).max)
    pair = p_user[smb] * (int(p_merchant.max()) + 1 if len(p_merchant) else 1) + p_merchant[smb]
    pairs90, pair_repeat90 = _window_counts(pair, p_day[smb], ends, 90, cap=cap[smb])
    birth = world.extra["birth_year"]
    smart_order = np.zeros(len(o), dtype=bool)
    smart_order[li_o[li_l1 == "smart_devices"]] = True
    smart = smart_order[paid_o]
    years = np.array([(pd.Timestamp(world.start) + timedelta(days=int(e))).year for e in ends])
    active60 = np.zeros(len(ends), dtype=np.int64)
    buyers60 = np.zeros(len(ends), dtype=np.int64)
    for year in np.unique(years):
        silver = year - birth[p_user] >= 60
        at = years == year
        active60[at] = _window_counts(p_user[silver], p_day[silver], ends, 365)[0][at]
        both = silver & smart
        buyers60[at] = _window_counts(p_user[both], p_day[both], ends, 365)[0][at]
    # SKU overlap: per week and category, the share of SPUs sold by two or more merchants
    two = np.isin(li_l1, ["3c_appliances", "beauty"])
    spu_codes = pd.factorize(skus["spu_id"].to_numpy())[0]
    sellers = pd.DataFrame({
        "week": li_week[two], "cat": li_l1[two], "spu": spu_codes[li_sku[two]],
        "merchant": o["merchant"].to_numpy()[li_o[two]],
    }).drop_duplicates().groupby(["week", "cat", "spu"]).size()
    overlap = (sellers >= 2).groupby(level=[0, 1]).agg(["sum", "count"])
    rows = []
    for i, wk in enumerate(weeks.itertuples()):
        end = wk.last_day
        rec = {"week": wk.week}
        g = gmv.get(i, 0)
        rec["gmv"] = g / 100
        rec["paid_orders"] = int(orders_n.get(i, 0))
        rec["aov"] = _ratio(g / 100, rec["paid_orders"])
        rec["net_sales"] = (g - refund_cny.get(i, 0)) / 100
        rec["nonstandard_share"] = _ratio(nonstd.get(i, 0), g)
        rec["channel_penetration"] = _ratio(emerging.get(i, 0), g)
        rec["new_customers"] = int(new_customers.get(i, 0))
        rec["spend"] = spend_week.get(i, 0) / 100
        rec["cac"] = _ratio(rec["spend"], rec["new_customers"])
        rec["logistics_cost_share"] = _ratio(cost_week.get(i, 0),
                                             ship_gmv_week.get(i, 0))
        ot = on_time.loc[i] if i in on_time.index else None
        rec["on_time_delivery"] = None if ot is None else _ratio(ot["sum"], ot["count"])
        if end - 89 >= 0:
            rec["repurchase_90d"] = _ratio(repeat90[i], active90[i])
            rec["smb_repurchase_90d"] = _ratio(pair_repeat90[i], pairs90[i])
        else:
            rec["repurchase_90d"] = rec["smb_repurchase_90d"] = None
        if end - 364 >= 0:
            rec["smart_device_penetration_60plus"] = _ratio(buyers60[i], active60[i])
        else:
            rec["smart_device_penetration_60plus"] = None
        for cat in ("3c_appliances", "beauty"):
            hit = overlap.loc[(i, cat)] if (i, cat) in overlap.index else None
            rec[f"sku_overlap_{cat}"] = None if hit is None else _ratio(hit["sum"], hit["count"])
        rows.append(rec)
    return pd.DataFrame(rows)


def _window_counts(key: np.ndarray, day: np.ndarray, ends: np.ndarray, width: int,
                   cap: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each window end E of `ends`: how many keys have a day in (E - width, E], and how
    many of them have two distinct days there; a row with a `cap` counts only while E < cap.

    Each distinct (key, day) d, with its key's previous day p and next day n, is the key's
    last day in the window for E in [d, n); the key is in the window while E < d + width, and
    has two days there while also E < p + width. Summing those intervals over a day axis
    counts every window at once (no per-window filter and group-by)."""
    horizon = int(ends.max()) + 2 if len(ends) else 1
    if not len(key):
        zero = np.zeros(len(ends), dtype=np.int64)
        return zero, zero.copy()
    cap = np.full(len(key), np.iinfo(np.int64).max) if cap is None else cap
    order = np.lexsort((day, key))
    key, day, cap = key[order], day[order], cap[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = (key[1:] != key[:-1]) | (day[1:] != day[:-1])
    key, day, cap = key[first], day[first], cap[first]
    same_prev = np.zeros(len(key), dtype=bool)
    same_prev[1:] = key[1:] == key[:-1]
    big = np.iinfo(np.int64).max // 4
    prev = np.where(same_prev, np.roll(day, 1), -big)
    same_next = np.zeros(len(key), dtype=bool)
    same_next[:-1] = same_prev[1:]
    nxt = np.where(same_next, np.roll(day, -1), big)
    upper = np.minimum(np.minimum(nxt, cap), day + width)

    def counted(until: np.ndarray) -> np.ndarray:
        lo = np.clip(day, 0, horizon)
        hi = np.clip(until, lo, horizon)
        diff = np.bincount(lo, minlength=horizon + 1) - np.bincount(hi, minlength=horizon + 1)
        return np.cumsum(diff)[ends]

    return counted(upper), counted(np.minimum(upper, prev + width))


def survival_truths(world: Clean) -> pd.DataFrame:
    """Return first-year survival per onboarding-month cohort whose day 365 has passed."""
    onboard = world.extra["m_onboard"]
    close = world.extra["m_close"]
    o = world.orders[world.orders["paid"]]
    paid_day = _local_day(o["paid_at"].to_numpy(), world)
    merchant = o["merchant"].to_numpy()
    # a merchant survives its first year if it sold in days 335..365 after onboarding
    d0 = onboard[merchant]
    sold = (d0 >= 0) & (paid_day >= d0 + 335) & (paid_day <= d0 + 365)
    sold_late = np.zeros(len(onboard), dtype=bool)
    sold_late[merchant[sold]] = True
    survived = sold_late & (close > onboard + 365)
    new = np.flatnonzero(onboard >= 0)
    months = (pd.Timestamp(world.start) + pd.to_timedelta(onboard[new], unit="D")).to_period("M")
    rows = []
    for month in sorted(set(months)):
        members = new[months == month]
        month_end = (month.end_time.normalize() - pd.Timestamp(world.start)).days
        if month_end + 365 > world.days - 1:
            continue
        alive = int(survived[members].sum())
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
