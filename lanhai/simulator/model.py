"""Simulate the marketplace's clean source records, vectorised with numpy.

Everything is drawn from one seeded generator, so a (start, days, scale, seed) tuple always
gives the same world. Times are epoch seconds (UTC); days are indices from the start date in
Asia/Shanghai. Money is held in integer cents so that the truths are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

import numpy as np
import pandas as pd

from lanhai.simulator import world as W

DAY = 86_400
SHANGHAI_OFFSET = 8 * 3600

# --- calibration: the shares and rates the world is drawn with, in one place ---------------
# (Category weights, prices, cities, festivals, CAC by channel and the pilots' shares are in
# world.py.) Orders per customer in a window, tuned with `lanhai generate` so that the
# platform's 90-day repurchase rate sits at the plan's 35% baseline (see calibration_report in
# truth.py).
REPEAT_RATE_PER_DAY = 0.0115
REPEAT_SHAPE = 0.55
LIFETIME_DAYS = 260.0
SILVER_SMART_DEVICE_BOOST = 9.0
# Share of repeat orders placed with a shop the customer bought from before.
SHOP_LOYALTY = 0.5
# Homogeneous categories (the same product sold by many shops): one SPU per this many orders.
ORDERS_PER_HOMOGENEOUS_SPU = 800
HOMOGENEOUS = ("3c_appliances", "beauty")
SECOND_HAND_PRICE_FACTOR = 0.55
# Merchants: KA share, onboarded during the window, first-year closures of those (survival
# near the plan's 60%), cross-border shops.
KA_SHARE = 0.08
NEW_MERCHANT_SHARE = 0.45
FIRST_YEAR_CLOSURE = 0.40
CROSS_BORDER_SHARE = 0.08
# People: birth-year bands (Gen-Z 1995-2009, 1980-94, 1966-79, 60+ 1940-64).
AGE_BAND_SHARES = (0.34, 0.37, 0.17, 0.12)
# Channels (W.CHANNELS' order) before the segments' and the trend's adjustments.
CHANNEL_BASE = np.array([0.37, 0.28, 0.10, 0.05, 0.065, 0.135])
HOUR_WEIGHTS = np.array([2, 1, .6, .4, .3, .4, .8, 1.5, 2.4, 3, 3.3, 3.5, 3.8, 3.4, 3.2, 3.2,
                         3.3, 3.5, 3.8, 4.5, 5.4, 6, 5.2, 3.6])
# Orders: paid, cancelled after payment, refunded; shipments split in two.
PAID_SHARE = 0.955
CANCEL_AFTER_PAYMENT = 0.015
REFUND_SHARE = 0.06
SPLIT_SHIPMENT_SHARE = 0.05
LOGISTICS_COST_FACTOR = (0.25, 0.375)  # share of the order's GMV
# Marketing: the part of each day's spend split over the pilot budget lines.
PILOT_BUDGET_SHARE = 0.3
WHOLE_UNIT_CURRENCIES = ("JPY", "KRW")  # prices in whole units
OVERSEAS_WAREHOUSE = {"USD": "WH-US01", "EUR": "WH-DE01", "JPY": "WH-JP01", "KRW": "WH-JP01",
                      "HKD": "WH-JP01"}


@dataclass
class Clean:
    """The clean source records of one simulated world, before defects and files.

    The big tables (order events, shipments, inventory snapshots) hold numbers (sequence
    numbers, indexes into `extra`'s ids and names); the landing writer spells them out."""

    start: date
    days: int
    seed: int
    scale: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    # Order-level and line-level facts the truths are computed from (final state, exact cents).
    orders: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    dropped_orders: int = 0
    extra: dict = field(default_factory=dict)

    def t0(self) -> int:
        """Epoch seconds of the start date's local midnight."""
        return _epoch_day(self.start) * DAY - SHANGHAI_OFFSET


EVENT_TYPES = ("created", "paid", "cancelled", "refunded")


def _epoch_day(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def day_weights(start: date, days: int) -> np.ndarray:
    """Return the relative order volume of each day: weekdays, festivals, trend."""
    dates = pd.date_range(start, periods=days, freq="D")
    w = np.array([0.95, 0.94, 0.96, 0.98, 1.04, 1.10, 1.06])[dates.dayofweek.to_numpy()]
    w = w * (1.0 + 0.22 * np.arange(days) / 365.0)
    idx = {d.date(): i for i, d in enumerate(dates)}
    for year in sorted({d.year for d in dates}):
        for month, day, peak, ramp, ramp_mult in W.FESTIVALS:
            peak_day = date(year, month, day)
            for k in range(1, ramp + 1):
                if (i := idx.get(peak_day - timedelta(days=k))) is not None:
                    w[i] *= ramp_mult
            if (i := idx.get(peak_day)) is not None:
                w[i] *= peak
        if year in W.SPRING_FESTIVAL:
            sf = date.fromisoformat(W.SPRING_FESTIVAL[year])
            for k in range(-7, 8):
                if (i := idx.get(sf + timedelta(days=k))) is not None:
                    w[i] *= 0.55 if abs(k) <= 3 else 0.75
    return w


def festival_price_factor(start: date, days: int) -> np.ndarray:
    """Return the promotion price factor of each day (deeper on festival peaks)."""
    dates = [start + timedelta(days=i) for i in range(days)]
    f = np.ones(days)
    for i, d in enumerate(dates):
        for month, day, _, ramp, _ in W.FESTIVALS:
            peak = date(d.year, month, day)
            if d == peak:
                f[i] = 0.85
            elif timedelta(0) < peak - d <= timedelta(days=ramp):
                f[i] = 0.92
    return f


def _sample_cdf(rng: np.random.Generator, cdf: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Draw indices in (lo, hi] with probability proportional to the cdf's increments."""
    u = rng.uniform(cdf[lo], cdf[hi])
    return np.minimum(np.searchsorted(cdf, u, side="left"), hi)


def _choice(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """Draw one column index per row of a (rows x options) probability matrix: the number of
    normalised cumulative probabilities below a uniform draw (summed column by column, which
    adds in the same order as a cumulative sum along the rows)."""
    total = probs.sum(axis=1)
    u = rng.random(len(probs))
    cum = probs[:, 0] / total
    picked = (u > cum).astype(np.int64)
    for k in range(1, probs.shape[1]):
        cum += probs[:, k] / total
        picked += u > cum
    return np.minimum(picked, probs.shape[1] - 1)


class _InverseCdf:
    """np.searchsorted(cdf, keys) for a sorted cdf on [0, top), exact, by a lookup table: on a
    grid of 2**-bits steps, the answer at each grid point; a key between two grid points with
    the same answer has that answer, and only the rest are searched."""

    def __init__(self, cdf: np.ndarray, top: int, bits: int = 18):
        self.cdf, self.scale = cdf, float(2 ** bits)
        self.table = np.searchsorted(cdf, np.arange(top * 2 ** bits + 2) / self.scale)

    def __call__(self, keys: np.ndarray) -> np.ndarray:
        cell = (keys * self.scale).astype(np.int64)  # exact: the scale is a power of two
        lo, hi = self.table[cell], self.table[cell + 1]
        out = lo
        open_ = np.flatnonzero(lo != hi)
        out[open_] = np.searchsorted(self.cdf, keys[open_])
        return out


def first_paid_orders(orders: pd.DataFrame) -> np.ndarray:
    """Each customer's first paid order (by payment time, then order id), as order numbers;
    `orders` is in id order."""
    paid_o = np.flatnonzero(orders["paid"].to_numpy())
    by_time = paid_o[np.argsort(orders["paid_at"].to_numpy()[paid_o], kind="stable")]
    return by_time[np.unique(orders["user"].to_numpy()[by_time], return_index=True)[1]]


def _phone_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    prefixes = np.array([130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 157,
                         158, 159, 166, 176, 177, 180, 181, 182, 185, 186, 187, 188, 189, 199])
    nums = rng.choice(10**8, size=n, replace=n > 10**7)
    pre = rng.choice(prefixes, size=n)
    return (pre.astype(np.int64) * 10**8 + nums).astype(str)  # 11 digits: the prefix is 1xx


_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))


def _id_cards(rng: np.random.Generator, birth_year: np.ndarray) -> np.ndarray:
    """Return resident ID numbers with a real structure (region, birth date, check digit)."""
    n = len(birth_year)
    region = rng.choice([110101, 310104, 440106, 510107, 330106, 420102, 610113, 450102, 530102],
                        size=n)
    month = rng.integers(1, 13, n)
    day = rng.integers(1, 29, n)
    seq = rng.integers(0, 1000, n)
    # the 17 digits as one number (the region code has no leading zero), and the check digit
    # from its digits' weighted sum
    body = (np.asarray(region, dtype=np.int64) * 10**11 + birth_year * 10**7 + month * 10**5
            + day * 10**3 + seq)
    weighted = np.zeros(n, dtype=np.int64)
    for k, weight in enumerate(_ID_WEIGHTS):
        weighted += body // 10 ** (16 - k) % 10 * weight
    return np.char.add(body.astype(str), _ID_CHECK[weighted % 11])


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width))


# --- the world, one entity at a time -------------------------------------------------------
# Each function below draws one entity from the shared generator, in the order simulate_clean
# calls them: the order of the draws is part of the output (a seed gives the same world only
# while every draw happens in the same order), so a new draw goes after the existing ones.
class Cities(NamedTuple):
    names: np.ndarray
    tier: np.ndarray
    weight: np.ndarray  # share of people and shops


def _cities() -> Cities:
    return Cities(np.array([c[0] for c in W.CITIES]), np.array([c[1] for c in W.CITIES]),
                  np.array([c[2] for c in W.CITIES], dtype=float))


class Categories(NamedTuple):
    records: pd.DataFrame  # the categories feed
    l1_names: list[str]
    l1_weight: np.ndarray  # share of orders


def _categories(t0: int) -> Categories:
    rows = []
    for l1, (zh, en, *_rest, l2s) in W.CATEGORIES.items():
        for l2 in l2s:
            rows.append((l2, l1, f"{zh}·{l2}", f"{en} / {l2.replace('_', ' ')}",
                         l1 == "smart_devices"))
    records = pd.DataFrame(rows, columns=["category_l2", "category_l1", "name_zh", "name_en",
                                          "is_smart_device"])
    records["updated_at"] = t0
    records["_day"] = 0
    l1_names = list(W.CATEGORIES)
    return Categories(records, l1_names, np.array([W.CATEGORIES[c][2] for c in l1_names]))


class Spus(NamedTuple):
    l1: np.ndarray      # index into l1_names
    l2: np.ndarray
    pop: np.ndarray     # popularity within the category (long tail)
    nonstd: np.ndarray
    pilot: np.ndarray   # "" or a pilot category
    price: np.ndarray   # CNY
    ids: np.ndarray


def _spus(rng: np.random.Generator, sc, cats: Categories) -> Spus:
    l1_names, l1_weight = cats.l1_names, cats.l1_weight
    homog = np.array([c in HOMOGENEOUS for c in l1_names])
    other_w = np.where(homog, 0.0, l1_weight)
    n_homog = max(12, sc.orders // ORDERS_PER_HOMOGENEOUS_SPU)
    homog_w = np.where(homog, l1_weight, 0.0)
    spu_l1 = np.concatenate([
        rng.choice(len(l1_names), size=n_homog, p=homog_w / homog_w.sum()),
        rng.choice(len(l1_names), size=sc.spus, p=other_w / other_w.sum()),
    ])
    n_spu = len(spu_l1)
    spu_l2 = np.array([rng.choice(W.CATEGORIES[l1_names[c]][5]) for c in spu_l1])
    rng.permutation(n_spu)  # unused draw, kept: the calibration was tuned on this stream
    spu_pop = np.ones(n_spu)
    for c in range(len(l1_names)):
        m = spu_l1 == c
        spu_pop[m] = 1.0 / np.arange(1, m.sum() + 1) ** (0.35 if homog[c] else 0.85)
        spu_pop[m] = rng.permutation(spu_pop[m])
    spu_nonstd = rng.random(n_spu) < np.array([W.CATEGORIES[l1_names[c]][3] for c in spu_l1])
    spu_pilot = np.full(n_spu, "", dtype=object)
    u = rng.random(n_spu)
    for pilot, shares in W.PILOT_SHARE.items():
        share = np.array([shares.get(l1_names[c], 0.0) for c in spu_l1])
        take = (spu_pilot == "") & (u < share)
        spu_pilot[take] = pilot
        u = rng.random(n_spu)
    spu_nonstd[spu_pilot == "second_hand"] = True
    med = np.array([W.PRICES[l1_names[c]][0] for c in spu_l1])
    sig = np.array([W.PRICES[l1_names[c]][1] for c in spu_l1])
    spu_price = np.maximum(np.round(med * np.exp(sig * rng.standard_normal(n_spu))) - 0.1, 4.9)
    spu_price[spu_pilot == "second_hand"] *= SECOND_HAND_PRICE_FACTOR
    return Spus(spu_l1, spu_l2, spu_pop, spu_nonstd, spu_pilot, spu_price, _ids("P", n_spu, 6))


class Merchants(NamedTuple):
    ka: np.ndarray
    new: np.ndarray        # onboarded during the window
    onboard: np.ndarray    # day (negative: before the window)
    close: np.ndarray      # day, or int32 max while open
    cross: np.ndarray      # cross-border
    currency: np.ndarray
    l1: np.ndarray
    city: np.ndarray       # index into Cities
    weight: np.ndarray     # sales weight
    ids: np.ndarray
    grow: np.ndarray       # an SMB that becomes KA during the window
    grow_day: np.ndarray   # that day, or -1


def _merchants(rng: np.random.Generator, sc, start: date, days: int, cats: Categories,
               cities: Cities) -> Merchants:
    l1_names, l1_weight = cats.l1_names, cats.l1_weight
    n_m = sc.merchants
    m_ka = rng.random(n_m) < KA_SHARE
    m_new = rng.random(n_m) < NEW_MERCHANT_SHARE
    m_onboard = np.where(m_new, rng.integers(0, max(days - 30, 1), n_m),
                         -rng.integers(1, 5 * 365, n_m))
    m_close = np.full(n_m, np.iinfo(np.int32).max, dtype=np.int64)
    # Stratified first-year closures per onboarding month keep survival near the plan's 60%.
    onboard_month = (pd.Timestamp(start) + pd.to_timedelta(m_onboard, unit="D")).to_period("M")
    for month in np.unique(onboard_month[m_new]):
        members = np.flatnonzero(m_new & (onboard_month == month) & ~m_ka)
        k = int(round(FIRST_YEAR_CLOSURE * len(members)))
        chosen = rng.choice(members, size=k, replace=False) if k else members[:0]
        m_close[chosen] = m_onboard[chosen] + rng.integers(60, 365, k)
    late = ~m_ka & (m_close > 10**9) & (rng.random(n_m) < 0.10)
    m_close[late] = np.maximum(m_onboard[late], 0) + 365 + rng.integers(1, 365, late.sum())
    old_exit = ~m_new & ~m_ka & (rng.random(n_m) < 0.07)
    m_close[old_exit] = rng.integers(0, days, old_exit.sum())
    m_close[m_close >= days] = np.iinfo(np.int32).max  # closures after the window are unknown
    m_cross = rng.random(n_m) < CROSS_BORDER_SHARE
    cur_names = np.array(W.CURRENCIES)
    m_currency = np.where(
        m_cross, rng.choice(cur_names, size=n_m, p=[0.35, 0.15, 0.2, 0.15, 0.15]), "CNY"
    )
    cross_l1 = [l1_names.index(c) for c in ("3c_appliances", "beauty", "food", "mother_baby",
                                             "health")]
    m_l1 = np.where(
        m_cross,
        rng.choice(cross_l1, size=n_m),
        rng.choice(len(l1_names), size=n_m, p=l1_weight / l1_weight.sum()),
    )
    m_city = rng.choice(len(W.CITIES), size=n_m, p=cities.weight / cities.weight.sum())
    # New shops get the platform's newcomer traffic support, so most that stay open keep selling.
    m_weight = np.where(m_ka, 4.0, np.where(m_new, 2.5, 1.0)) * (0.35 + rng.pareto(2.5, n_m))
    m_ids = _ids("M", n_m, 6)
    # Some SMBs grow into KA during the window: a change record on that day.
    grow = ~m_ka & (rng.random(n_m) < 0.03)
    grow_day = np.where(grow, rng.integers(0, days, n_m), -1)
    grow &= grow_day > np.maximum(m_onboard, 0)
    grow &= grow_day < m_close
    grow_day = np.where(grow, grow_day, -1)  # only merchants that really grew have a day
    return Merchants(m_ka, m_new, m_onboard, m_close, m_cross, m_currency, m_l1, m_city,
                     m_weight, m_ids, grow, grow_day)


class Skus(NamedTuple):
    spu: np.ndarray
    merchant: np.ndarray
    price_cents: np.ndarray      # list price in the merchant's currency
    cost_cents: np.ndarray       # CNY
    grade: np.ndarray            # second-hand condition, else ""
    pilot: np.ndarray
    green: np.ndarray
    change_day: np.ndarray       # a price change or a green certification, else int32 max
    new_price_cents: np.ndarray
    new_pilot: np.ndarray
    ids: np.ndarray
    by_merchant: np.ndarray      # SKU numbers sorted by merchant (stable) ...
    merchant_first: np.ndarray   # ... where each merchant's start in it
    merchant_count: np.ndarray   # ... and how many


def _skus(rng: np.random.Generator, days: int, cats: Categories, spus: Spus,
          merchants: Merchants) -> Skus:
    """Each SPU sold by one or more merchants of its category."""
    l1_names = cats.l1_names
    spu_l1, spu_pop = spus.l1, spus.pop
    n_spu, n_m = len(spu_l1), len(merchants.ids)
    m_l1, m_weight, m_currency = merchants.l1, merchants.weight, merchants.currency
    sku_spu, sku_m = [], []
    for c in range(len(l1_names)):
        spus_c = np.flatnonzero(spu_l1 == c)
        merch_c = np.flatnonzero(m_l1 == c)
        if len(spus_c) == 0 or len(merch_c) == 0:
            continue
        mean_sellers = W.CATEGORIES[l1_names[c]][4]
        k = 1 + rng.poisson(mean_sellers - 1, len(spus_c))
        k = np.minimum(k, min(8, len(merch_c)))
        pw = m_weight[merch_c] / m_weight[merch_c].sum()
        sku_spu.append(np.repeat(spus_c, k))
        sku_m.append(rng.choice(merch_c, size=k.sum(), p=pw))
    sku_spu = np.concatenate(sku_spu)
    sku_m = np.concatenate(sku_m)
    # Every merchant sells something, and new shops list popular products of their category
    # (three SKUs each), so that a shop that stays open keeps selling.
    lonely = np.setdiff1d(np.arange(n_m), sku_m)
    newcomers = np.repeat(np.flatnonzero(merchants.new & ~merchants.ka), 3)
    topped = np.concatenate([lonely, newcomers])
    # One popularity-weighted draw per shop, as rng.choice(cand, p=...) makes it (one uniform
    # each, against the normalised cumulative weights), by category instead of one by one.
    u = rng.random(len(topped))
    extra_spu = np.empty(len(topped), dtype=np.int64)
    topped_l1 = m_l1[topped]
    for c in np.unique(topped_l1):
        cand = np.flatnonzero(spu_l1 == c)
        if len(cand) == 0:
            cand = np.arange(n_spu)
        pop_cdf = (spu_pop[cand] / spu_pop[cand].sum()).cumsum()
        pop_cdf /= pop_cdf[-1]
        at = topped_l1 == c
        extra_spu[at] = cand[pop_cdf.searchsorted(u[at], side="right")]
    sku_spu = np.concatenate([sku_spu, extra_spu])
    sku_m = np.concatenate([sku_m, topped])
    pairs = pd.DataFrame({"spu": sku_spu, "m": sku_m}).drop_duplicates()
    pairs = pairs.sort_values(["spu", "m"]).reset_index(drop=True)
    sku_spu = pairs["spu"].to_numpy()
    sku_m = pairs["m"].to_numpy()
    n_sku = len(pairs)
    rate0 = np.array([1.0 if c == "CNY" else W.FX_BASE[c] for c in m_currency[sku_m]])
    whole_units = np.isin(m_currency[sku_m], WHOLE_UNIT_CURRENCIES)
    price_cny = spus.price[sku_spu] * rng.uniform(0.92, 1.08, n_sku)
    sku_price = np.where(whole_units, np.round(price_cny / rate0),
                         np.round(price_cny / rate0, 2))
    sku_price_cents = np.round(sku_price * 100).astype(np.int64)
    sku_cost_cents = np.round(price_cny * rng.uniform(0.55, 0.72, n_sku) * 100).astype(np.int64)
    sku_grade = np.where(spus.pilot[sku_spu] == "second_hand",
                         rng.choice(np.array(["A", "B", "C", "D"]), n_sku), "")
    sku_pilot = spus.pilot[sku_spu].copy()
    sku_green = (sku_pilot == "sustainable") | (rng.random(n_sku) < 0.03)
    # Changes during the window: price changes, and some SKUs certified green (-> sustainable).
    sku_change_day = np.full(n_sku, np.iinfo(np.int32).max, dtype=np.int64)
    sku_new_price_cents = sku_price_cents.copy()
    reprice = rng.random(n_sku) < 0.04
    sku_change_day[reprice] = rng.integers(1, days, reprice.sum())
    factor = rng.uniform(0.85, 1.10, n_sku)
    sku_new_price_cents[reprice] = np.round(sku_price_cents[reprice] * factor[reprice]).astype(
        np.int64)
    sku_new_price_cents[whole_units & reprice] = (
        np.round(sku_new_price_cents[whole_units & reprice] / 100) * 100
    ).astype(np.int64)
    certify = (sku_pilot == "") & np.isin(spu_l1[sku_spu], [l1_names.index("home"),
                                                            l1_names.index("food")])
    certify &= rng.random(n_sku) < 0.04
    sku_change_day[certify] = rng.integers(1, days, certify.sum())
    sku_new_pilot = sku_pilot.copy()
    sku_new_pilot[certify] = "sustainable"
    by_merchant = np.argsort(sku_m, kind="stable")
    m_first = np.searchsorted(sku_m[by_merchant], np.arange(n_m))
    m_count = np.searchsorted(sku_m[by_merchant], np.arange(n_m), side="right") - m_first
    return Skus(sku_spu, sku_m, sku_price_cents, sku_cost_cents, sku_grade, sku_pilot,
                sku_green, sku_change_day, sku_new_price_cents, sku_new_pilot,
                _ids("S", n_sku, 7), by_merchant, m_first, m_count)


class People(NamedTuple):
    pre: np.ndarray          # registered before the window
    reg_day: np.ndarray
    birth_year: np.ndarray
    genz: np.ndarray
    silver: np.ndarray       # 60+
    city: np.ndarray         # index into Cities
    lower: np.ndarray        # a lower-tier city
    pet: np.ndarray
    gender: np.ndarray
    ids: np.ndarray


def _people(rng: np.random.Generator, sc, days: int, cdf: np.ndarray,
            cities: Cities) -> People:
    per_customer = 1.0 + REPEAT_RATE_PER_DAY * min(LIFETIME_DAYS, days / 2) * 0.75
    n_users = int(sc.orders / per_customer / 0.84 / PAID_SHARE * 1.2)
    pre = rng.random(n_users) < 0.25
    reg_day = np.where(pre, -rng.integers(30, 5 * 365, n_users),
                       _sample_cdf(rng, cdf, np.zeros(n_users, int),
                                   np.full(n_users, days)) - 1)
    byear_band = rng.choice(4, size=n_users, p=AGE_BAND_SHARES)
    lo = np.array([1995, 1980, 1966, 1940])[byear_band]
    hi = np.array([2009, 1994, 1979, 1964])[byear_band]
    birth_year = rng.integers(lo, hi + 1)
    genz = byear_band == 0
    silver = byear_band == 3
    u_city = rng.choice(len(W.CITIES), size=n_users, p=cities.weight / cities.weight.sum())
    u_lower = np.isin(cities.tier[u_city], W.LOWER_TIERS)
    pet = rng.random(n_users) < np.where(genz, 0.28, 0.14)
    gender = rng.choice(np.array(["F", "M", "U"]), size=n_users, p=[0.52, 0.45, 0.03])
    return People(pre, reg_day, birth_year, genz, silver, u_city, u_lower, pet, gender,
                  _ids("U", n_users, 8))


def _channel_probs(n_rows, day_idx, g, s, low):
    """Each row's channel probabilities (W.CHANNELS' order): emerging channels grow over
    time; Gen-Z, 60+ and lower-tier people lean to their own."""
    p = np.tile(CHANNEL_BASE, (n_rows, 1))
    p[:, 2:5] *= (1.0 + 0.15 * day_idx / 365.0)[:, None]
    p[g, 2] *= 1.5
    p[g, 3] *= 1.6
    p[s, 4] *= 1.8
    p[s, 0] *= 0.8
    p[low, 4] *= 1.5
    return p


class Placed(NamedTuple):
    """The orders, by creation time then user: who, when, where and the first line's SKU."""
    user: np.ndarray
    day: np.ndarray
    created: np.ndarray
    channel: np.ndarray
    sku: np.ndarray
    merchant: np.ndarray
    currency: np.ndarray
    acquisition: np.ndarray  # per person: the first order's channel (or one drawn alike)
    dropped: int             # orders no open shop could take


def _orders(rng: np.random.Generator, days: int, t0: int, cdf: np.ndarray, cats: Categories,
            spus: Spus, merchants: Merchants, skus: Skus, people: People) -> Placed:
    """First orders at arrival, repeats over each customer's lifetime; what each buys: a
    pilot SPU, or an SPU of a category the segment prefers, from a shop open that day."""
    l1_names, l1_weight = cats.l1_names, cats.l1_weight
    pre, reg_day, genz, silver, u_lower, pet = (people.pre, people.reg_day, people.genz,
                                                people.silver, people.lower, people.pet)
    n_users, n_spu = len(people.ids), len(spus.l1)
    spu_l1, spu_pilot, spu_pop = spus.l1, spus.pilot, spus.pop
    sku_spu, sku_m = skus.spu, skus.merchant
    m_onboard, m_close = merchants.onboard, merchants.close
    orders_ever = rng.random(n_users) < np.where(pre, 0.78, 0.84)
    arrival = np.where(
        pre,
        _sample_cdf(rng, cdf, np.zeros(n_users, int), np.full(n_users, days)) - 1,
        reg_day + np.where(rng.random(n_users) < 0.7, 0, rng.geometric(0.3, n_users)),
    )
    orders_ever &= arrival < days
    cust = np.flatnonzero(orders_ever)
    a = arrival[cust]
    life_end = np.minimum(a + rng.exponential(LIFETIME_DAYS, len(cust)).astype(int), days - 1)
    lam = rng.gamma(REPEAT_SHAPE, REPEAT_RATE_PER_DAY / REPEAT_SHAPE, len(cust))
    exposure = cdf[life_end + 1] - cdf[a + 1]
    n_rep = rng.poisson(lam * np.maximum(exposure, 0))
    o_user = np.concatenate([cust, np.repeat(cust, n_rep)])
    rep_lo = np.repeat(a + 1, n_rep)
    rep_hi = np.repeat(life_end + 1, n_rep)
    rep_day = _sample_cdf(rng, cdf, rep_lo, rep_hi) - 1
    o_day = np.concatenate([a, rep_day])
    o_first = np.concatenate([np.ones(len(cust), bool), np.zeros(n_rep.sum(), bool)])
    n_o = len(o_user)
    hour = rng.choice(24, size=n_o, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    o_created = t0 + o_day * DAY + hour * 3600 + rng.integers(0, 3600, n_o)

    g, s, low = genz[o_user], silver[o_user], u_lower[o_user]
    ch = _choice(rng, _channel_probs(n_o, o_day, g, s, low))
    # Acquisition channel = first order's channel; non-buyers get one drawn the same way.
    acq = _choice(rng, _channel_probs(n_users, np.clip(reg_day, 0, days), genz, silver, u_lower))
    acq[o_user[o_first]] = ch[o_first]

    t_year = o_day / 365.0
    is_pet = pet[o_user]
    p_pilot = np.zeros((n_o, 4))
    p_pilot[:, 1] = 0.030 * 1.30**t_year                                   # sustainable
    p_pilot[:, 2] = np.where(s, 0.060, 0.012) * 1.32**t_year               # silver economy
    p_pilot[:, 3] = 0.022 * 1.28**t_year                                   # second-hand
    p_pilot[:, 0] = 1.0 - p_pilot[:, 1:].sum(axis=1)
    pilot_pick = _choice(rng, p_pilot)  # 0 = none, 1..3 = W.PILOTS index + 1
    del p_pilot  # (the big per-order temporaries are dropped as soon as they are used)
    seg_w = np.tile(l1_weight, (n_o, 1))
    col = {c: i for i, c in enumerate(l1_names)}
    seg_w[g, col["beauty"]] *= 1.3
    seg_w[g, col["apparel"]] *= 1.25
    seg_w[:, col["pet_supplies"]] *= np.where(is_pet, 5.0, 0.35)
    seg_w[s, col["health"]] *= 2.2
    seg_w[s, col["smart_devices"]] *= SILVER_SMART_DEVICE_BOOST
    seg_w[s, col["food"]] *= 1.3
    seg_w[s, col["beauty"]] *= 0.5
    o_l1 = _choice(rng, seg_w)
    del seg_w, t_year, is_pet
    group = np.where(pilot_pick > 0, len(l1_names) + pilot_pick - 1, o_l1)
    # An SPU's group: its category, or its pilot category (after the categories, in W.PILOTS'
    # order, as pilot_pick counts them). W.PILOTS is not in alphabetical order, so this is a
    # lookup, not a search (a searchsorted here once sent the pilots' picks to the wrong SPUs).
    pilot_no = {name: i for i, name in enumerate(W.PILOTS)}
    spu_group = spu_l1.copy()
    for name, i in pilot_no.items():
        spu_group[spu_pilot == name] = len(l1_names) + i
    order_by_group = np.lexsort((np.arange(n_spu), spu_group))
    g_sorted = spu_group[order_by_group]
    pop_sorted = spu_pop[order_by_group]
    n_groups = len(l1_names) + len(W.PILOTS)
    g_start = np.searchsorted(g_sorted, np.arange(n_groups))
    g_end = np.searchsorted(g_sorted, np.arange(n_groups), side="right")
    pop_cum = np.zeros(n_spu)
    for k in range(n_groups):
        seg = pop_sorted[g_start[k]:g_end[k]]
        if len(seg):
            pop_cum[g_start[k]:g_end[k]] = np.cumsum(seg) / seg.sum() + k
    empty = g_start == g_end
    group = np.where(empty[group], o_l1, group)
    sku_start = np.searchsorted(sku_spu, np.arange(n_spu))
    sku_count = np.searchsorted(sku_spu, np.arange(n_spu), side="right") - sku_start
    sku_w = (merchants.weight / merchants.weight.max())[sku_m]
    o_sku = np.full(n_o, -1, dtype=np.int64)
    todo = np.arange(n_o)
    spu_of = _InverseCdf(pop_cum, n_groups)
    for _ in range(40):
        if len(todo) == 0:
            break
        gg = group[todo]
        pos = spu_of(gg + rng.random(len(todo)))
        pos = np.clip(pos, g_start[gg], g_end[gg] - 1)
        spu = order_by_group[pos]
        has = sku_count[spu] > 0
        cand = sku_start[spu] + (rng.random(len(todo)) * np.maximum(sku_count[spu], 1)).astype(
            int)
        cand = np.where(has, cand, 0)
        d = o_day[todo]
        mm = sku_m[cand]
        ok = has & (m_onboard[mm] <= d) & (d < m_close[mm]) & (rng.random(len(todo)) < np.sqrt(
            sku_w[cand]))
        o_sku[todo[ok]] = cand[ok]
        todo = todo[~ok]
    del group, todo, gg, pos, spu, has, cand, d, mm, ok, spu_of
    # Loyalty: some repeat orders go back to the shop of the customer's first order.
    first_of = np.full(n_users, -1, dtype=np.int64)
    placed_first = o_first & (o_sku >= 0)
    first_of[o_user[placed_first]] = sku_m[o_sku[placed_first]]
    fav = first_of[o_user]
    loyal = ~o_first & (fav >= 0) & (rng.random(n_o) < SHOP_LOYALTY)
    loyal &= (m_onboard[np.maximum(fav, 0)] <= o_day) & (o_day < m_close[np.maximum(fav, 0)])
    fav_l = fav[loyal]
    o_sku[loyal] = skus.by_merchant[skus.merchant_first[fav_l] + (
        rng.random(loyal.sum()) * skus.merchant_count[fav_l]).astype(int)]
    del first_of, placed_first, fav, loyal, fav_l, g, s, low, hour, o_first, pilot_pick, o_l1
    keep = o_sku >= 0
    dropped = int((~keep).sum())
    # A customer whose first order could not be placed starts with their next one.
    o_user, o_day, o_created, ch, o_sku = (x[keep] for x in (o_user, o_day, o_created, ch, o_sku))
    order_sort = np.lexsort((o_user, o_created))
    o_user, o_day, o_created, ch, o_sku = (x[order_sort] for x in
                                          (o_user, o_day, o_created, ch, o_sku))
    o_m = sku_m[o_sku]
    return Placed(o_user, o_day, o_created, ch, o_sku, o_m, merchants.currency[o_m], acq,
                  dropped)


class Lines(NamedTuple):
    order: np.ndarray
    line_no: np.ndarray
    sku: np.ndarray
    qty: np.ndarray
    price_cents: np.ndarray     # unit price paid, the order's currency
    discount_cents: np.ndarray


def _lines(rng: np.random.Generator, start: date, days: int, placed: Placed,
           skus: Skus) -> Lines:
    """The order's first SKU, and up to three more of the same shop."""
    n_o, n_sku = len(placed.user), len(skus.ids)
    n_extra = np.minimum(rng.poisson(0.35, n_o), 3)
    li_order = np.concatenate([np.arange(n_o), np.repeat(np.arange(n_o), n_extra)])
    extra_m = np.repeat(placed.merchant, n_extra)
    extra_sku = skus.by_merchant[skus.merchant_first[extra_m] + (
        rng.random(len(extra_m)) * skus.merchant_count[extra_m]).astype(int)]
    li_sku = np.concatenate([placed.sku, extra_sku])
    # each (order, SKU) once, first come first kept, then by order (stable)
    first = ~pd.Series(li_order * n_sku + li_sku).duplicated().to_numpy()
    li_order, li_sku = li_order[first], li_sku[first]
    by_order = np.argsort(li_order, kind="stable")
    li_order, li_sku = li_order[by_order], li_sku[by_order]
    n_li = len(li_order)
    del first, by_order, extra_m, extra_sku, n_extra
    li_no = (np.arange(n_li) - np.searchsorted(li_order, li_order)) + 1
    li_qty = rng.choice([1, 2, 3, 4, 5, 6], size=n_li, p=[0.78, 0.15, 0.05, 0.01, 0.005, 0.005])
    li_day = placed.day[li_order]
    price_now = np.where(li_day >= skus.change_day[li_sku], skus.new_price_cents[li_sku],
                         skus.price_cents[li_sku])
    promo = festival_price_factor(start, days)[li_day] * np.where(rng.random(n_li) < 0.1, 0.95,
                                                                  1.0)
    li_whole = np.isin(placed.currency[li_order], WHOLE_UNIT_CURRENCIES)
    unit = price_now * promo
    li_price = np.where(li_whole, np.round(unit / 100) * 100, np.round(unit)).astype(np.int64)
    li_price = np.maximum(li_price, 100)
    has_disc = rng.random(n_li) < 0.25
    disc = li_qty * li_price * rng.uniform(0.03, 0.15, n_li) * has_disc
    li_disc = np.where(li_whole, np.round(disc / 100) * 100, np.round(disc)).astype(np.int64)
    return Lines(li_order, li_no, li_sku, li_qty, li_price, li_disc)


class Payments(NamedTuple):
    paid: np.ndarray
    paid_at: np.ndarray          # -1: unpaid
    cancelled_at: np.ndarray     # -1: not cancelled
    cancelled_after_pay: np.ndarray


def _payments(rng: np.random.Generator, t0: int, days: int, placed: Placed) -> Payments:
    n_o, o_created = len(placed.user), placed.created
    paid = rng.random(n_o) < PAID_SHARE
    o_paid = np.where(paid, o_created + 30 + rng.exponential(150, n_o).astype(np.int64), -1)
    o_cancel = np.where(~paid, o_created + 1800, -1)
    cancel_after = paid & (rng.random(n_o) < CANCEL_AFTER_PAYMENT)
    o_cancel = np.where(cancel_after, o_paid + rng.integers(1800, 72_000, n_o), o_cancel)
    end_ts = t0 + days * DAY
    o_cancel = np.where(o_cancel >= end_ts, -1, o_cancel)
    paid &= o_paid < end_ts
    return Payments(paid, np.where(paid, o_paid, -1), o_cancel, cancel_after)


class Fx(NamedTuple):
    records: pd.DataFrame          # business-day rates, as published
    micro: dict[str, np.ndarray]   # per currency: the rate in force on each day from day -7


def _fx(rng: np.random.Generator, start: date, days: int) -> Fx:
    """Business-day rates from a week before the start; a date uses the latest on or before."""
    fx_days = np.arange(-7, days)
    fx_dates = pd.Timestamp(start) + pd.to_timedelta(fx_days, unit="D")
    business = fx_dates.dayofweek < 5
    rows = []
    fx_micro = {"CNY": np.full(len(fx_days), 1_000_000, dtype=np.int64)}
    for cur in W.CURRENCIES:
        walk = W.FX_BASE[cur] * np.exp(np.cumsum(rng.normal(0, 0.003, len(fx_days))))
        micro = np.round(walk * 1e6).astype(np.int64)
        idx = np.where(business, np.arange(len(fx_days)), -1)
        idx = np.maximum.accumulate(idx)
        fx_micro[cur] = micro[idx]
        for i in np.flatnonzero(business):
            rows.append((int(fx_days[i]), cur, int(micro[i])))
    return Fx(pd.DataFrame(rows, columns=["rate_day", "currency", "micro"]), fx_micro)


def _refunds(rng: np.random.Generator, t0: int, days: int, placed: Placed, pay: Payments,
             total_cents: np.ndarray, rate_micro: np.ndarray) -> pd.DataFrame:
    """Refunds of paid orders not cancelled, within 2-20 days; most in full."""
    n_o = len(placed.user)
    refund = pay.paid & ~pay.cancelled_after_pay & (rng.random(n_o) < REFUND_SHARE)
    r_at = pay.paid_at + rng.integers(2 * DAY, 20 * DAY, n_o)
    refund &= r_at < t0 + days * DAY
    full = rng.random(n_o) < 0.7
    r_amount = np.where(full, total_cents, np.round(total_cents * rng.uniform(0.2, 0.8, n_o)))
    r_amount = np.where(np.isin(placed.currency, WHOLE_UNIT_CURRENCIES),
                        np.round(r_amount / 100) * 100, r_amount).astype(np.int64)
    r_amount = np.maximum(r_amount, 1)
    idx = np.flatnonzero(refund)
    return pd.DataFrame({
        "refund_id": _ids("R", len(idx), 8),
        "_o": idx,  # the order, as a number (the writer spells out its id)
        "currency": placed.currency[idx],
        "amount_cents": r_amount[idx],
        "reason": rng.choice(np.array(["quality", "not_as_described", "late_delivery",
                                       "changed_mind"]), len(idx)),
        "refunded_at": r_at[idx],
        "updated_at": r_at[idx],
        "_cny_cents": (r_amount[idx] * rate_micro[idx] + 500_000) // 1_000_000,
    })


def _order_events(placed: Placed, pay: Payments, refunds: pd.DataFrame) -> pd.DataFrame:
    """Each order's events (created, paid, cancelled, refunded), each carrying the full order
    as it is after the event; kept as numbers (order, kind), by time then order."""
    n_o, o_created, paid, o_paid, o_cancel = (len(placed.user), placed.created, pay.paid,
                                              pay.paid_at, pay.cancelled_at)
    refund_idx = refunds["_o"].to_numpy()
    ev = [("created", np.arange(n_o), o_created)]
    ev.append(("paid", np.flatnonzero(paid), o_paid[paid]))
    cancelled = o_cancel >= 0
    ev.append(("cancelled", np.flatnonzero(cancelled), o_cancel[cancelled]))
    ev.append(("refunded", refund_idx, refunds["refunded_at"].to_numpy()))
    # the event's kind: an index into EVENT_TYPES (also the order's status after it)
    ev_kind = np.concatenate([np.full(len(i), EVENT_TYPES.index(t), dtype=np.int8)
                              for t, i, _ in ev])
    ev_o = np.concatenate([i for _, i, _ in ev])
    ev_ts = np.concatenate([ts for _, _, ts in ev])
    ev_paid = np.where((ev_kind != 0) & paid[ev_o], o_paid[ev_o], -1)
    ev_cancel = np.where(ev_kind == 2, o_cancel[ev_o], -1)  # cancelled; a refund clears it
    # (ids are zero-padded sequence numbers: the index sorts the same)
    by = np.lexsort((ev_o, ev_ts))
    return pd.DataFrame({
        "_o": ev_o[by], "_kind": ev_kind[by], "created_at": o_created[ev_o[by]],
        "paid_at": ev_paid[by], "cancelled_at": ev_cancel[by], "updated_at": ev_ts[by],
    }, copy=False)  # the columns as they are: no copy into one block


def _domestic_warehouses() -> np.ndarray:
    return np.array([w[0] for w in W.WAREHOUSES if not w[3]])


class Shipments(NamedTuple):
    records: pd.DataFrame      # shipped, then delivered: two records per shipment
    warehouses: np.ndarray     # the names the records' `_wh` codes index
    carriers: np.ndarray       # the names the records' `_carrier` codes index


def _shipments(rng: np.random.Generator, t0: int, days: int, weights: np.ndarray,
               placed: Placed, pay: Payments, currency_code: np.ndarray,
               currencies: np.ndarray, gmv_cents: np.ndarray, people: People,
               cities: Cities) -> Shipments:
    """A shipment per paid order not cancelled (5% split in two), promised by the city's tier,
    late on festival peaks, its cost a share of GMV."""
    o_day, o_paid, o_currency = placed.day, pay.paid_at, placed.currency
    end_ts = t0 + days * DAY
    shipped = pay.paid & ~pay.cancelled_after_pay
    s_o = np.flatnonzero(shipped)
    festival_slow = weights > np.median(weights) * 1.3  # peak days: carriers run late
    lag = rng.integers(2 * 3600, 60 * 3600, len(s_o)) + festival_slow[o_day[s_o]] * rng.integers(
        0, 2 * DAY, len(s_o))
    split = rng.random(len(s_o)) < SPLIT_SHIPMENT_SHARE
    sh_o = np.concatenate([s_o, s_o[split]])
    sh_ship = np.concatenate([o_paid[s_o] + lag, o_paid[s_o[split]] + lag[split] + rng.integers(
        DAY, 3 * DAY, split.sum())])
    o_cross = o_currency != "CNY"
    cross = o_cross[sh_o]
    dom = _domestic_warehouses()
    # Warehouses and carriers as codes (indexes into their sorted names): the same draws as
    # choosing the names themselves, without a string per shipment.
    wh_names = np.array(sorted(set(dom) | set(OVERSEAS_WAREHOUSE.values())))
    wh_code = np.searchsorted(wh_names, dom)[rng.choice(len(dom), size=len(sh_o))]
    over_code = np.searchsorted(wh_names, [OVERSEAS_WAREHOUSE.get(c, dom[0]) for c in currencies])
    wh_code[cross] = over_code[currency_code[sh_o[cross]]]
    carrier_names = np.array(sorted(set(W.CROSS_BORDER_CARRIERS) | set(W.DOMESTIC_CARRIERS)))
    carrier_code = np.where(
        cross,
        np.searchsorted(carrier_names, W.CROSS_BORDER_CARRIERS)[
            rng.choice(len(W.CROSS_BORDER_CARRIERS), len(sh_o))],
        np.searchsorted(carrier_names, W.DOMESTIC_CARRIERS)[
            rng.choice(len(W.DOMESTIC_CARRIERS), len(sh_o))])
    city_tier = cities.tier
    city_promise = np.select([np.isin(city_tier, ["tier1", "new_tier1"]), city_tier == "tier2"],
                             [2, 3], 4)
    promise_days = np.where(cross, 8, city_promise[people.city[placed.user[sh_o]]])
    sh_promised = sh_ship + promise_days * DAY
    transit = promise_days * DAY * rng.lognormal(np.log(0.66), 0.28, len(sh_o))
    transit *= np.where(festival_slow[np.clip((sh_ship - t0) // DAY, 0, days - 1)], 1.25, 1.0)
    sh_deliv = sh_ship + transit.astype(np.int64)
    del transit, promise_days, cross
    f = rng.uniform(*LOGISTICS_COST_FACTOR, len(s_o)) * np.where(o_cross[s_o], 1.3, 1.0)
    cost = np.maximum(np.round(gmv_cents[s_o] * f), 600).astype(np.int64)
    first_cost = np.where(split, np.round(cost * 0.6), cost).astype(np.int64)
    sh_cost = np.concatenate([first_cost, cost[split] - first_cost[split]])
    del f, cost, first_cost, lag
    keep = sh_ship < end_ts
    sh_o, sh_ship, sh_promised, sh_deliv, sh_cost, wh_code, carrier_code = (
        x[keep] for x in (sh_o, sh_ship, sh_promised, sh_deliv, sh_cost, wh_code, carrier_code))
    sh_deliv = np.where(sh_deliv < end_ts, sh_deliv, -1)
    # Two records per shipment: shipped, then delivered (if it was), by time then shipment.
    # Kept as numbers: the shipment's sequence number (its id, "H" + 9 digits), its order,
    # and its warehouse and carrier as indexes into the names (the writer spells them out).
    n_sh = len(sh_o)
    delivered = np.flatnonzero(sh_deliv >= 0)
    sh_no = np.concatenate([np.arange(n_sh), delivered])
    sh_updated = np.concatenate([sh_ship, sh_deliv[delivered]])
    by_time = np.lexsort((sh_no, sh_updated))
    rec = sh_no[by_time]
    records = pd.DataFrame({
        "_sh": rec, "_o": sh_o[rec], "_wh": wh_code[rec].astype(np.int8),
        "_carrier": carrier_code[rec].astype(np.int8), "shipped_at": sh_ship[rec],
        "promised_at": sh_promised[rec],
        "delivered_at": np.where(by_time >= n_sh, sh_deliv[rec], -1),
        "logistics_cost_cents": sh_cost[rec], "updated_at": sh_updated[by_time],
    }, copy=False)  # the columns as they are: no copy into one block
    return Shipments(records, wh_names, carrier_names)


class Inventory(NamedTuple):
    records: pd.DataFrame   # daily snapshots
    warehouses: np.ndarray  # the names the records' `_wh` codes index


def _inventory(rng: np.random.Generator, t0: int, days: int, merchants: Merchants,
               skus: Skus, lines: Lines) -> Inventory:
    """Daily snapshots of stocked SKU x warehouse pairs: a saw-tooth around a cover of the
    SKU's sales, while its shop is open."""
    m_ka, m_currency, sku_m = merchants.ka, merchants.currency, skus.merchant
    n_m, n_sku = len(merchants.ids), len(skus.ids)
    dom = _domestic_warehouses()
    stocked_m = rng.random(n_m) < np.where(m_ka, 0.5, 0.12)
    inv_sku = np.flatnonzero(stocked_m[sku_m])
    inv_sku = inv_sku[rng.random(len(inv_sku)) < 0.8]
    sold = np.bincount(lines.sku, weights=lines.qty, minlength=n_sku) / days
    cover = rng.uniform(28, 110, n_m)[sku_m[inv_sku]]
    level = np.maximum(sold[inv_sku] * cover, 2.0)
    inv_wh = np.where(m_currency[sku_m[inv_sku]] != "CNY",
                      [OVERSEAS_WAREHOUSE.get(c, "WH-SH01") for c in m_currency[sku_m[inv_sku]]],
                      rng.choice(dom, size=len(inv_sku)))
    two = rng.random(len(inv_sku)) < 0.2
    inv_sku = np.concatenate([inv_sku, inv_sku[two]])
    inv_wh = np.concatenate([inv_wh, rng.choice(dom, size=two.sum())])
    level = np.concatenate([level * np.where(two, 0.6, 1.0), level[two] * 0.4])
    pairs_inv = pd.DataFrame({"sku": inv_sku, "wh": inv_wh, "level": level}).drop_duplicates(
        ["sku", "wh"])
    inv_sku, inv_wh, level = (pairs_inv[c].to_numpy() for c in ("sku", "wh", "level"))
    first_day = np.maximum(merchants.onboard[sku_m[inv_sku]], 0)
    last_day = np.minimum(merchants.close[sku_m[inv_sku]], days) - 1
    n_days = np.maximum(last_day - first_day + 1, 0)
    inv_pair = np.repeat(np.arange(len(inv_sku)), n_days)
    inv_day = first_day[inv_pair] + (np.arange(len(inv_pair)) - np.repeat(
        np.cumsum(n_days) - n_days, n_days))
    cycle = rng.integers(10, 35, len(inv_sku))
    phase = rng.integers(0, 35, len(inv_sku))
    saw = ((inv_day + phase[inv_pair]) % cycle[inv_pair]) / cycle[inv_pair]
    qty = np.round(level[inv_pair] * (1.6 - 1.2 * saw)).astype(np.int64)
    inv_wh_names, inv_wh_code = np.unique(inv_wh, return_inverse=True)
    records = pd.DataFrame({  # SKU and warehouse as indexes into their ids
        "snapshot_day": inv_day, "_sku": inv_sku[inv_pair], "_wh": inv_wh_code[inv_pair],
        "qty_on_hand": qty, "exported_at": t0 + inv_day * DAY + 23 * 3600 + 1800,
    }, copy=False)  # the columns as they are: no copy into one block
    return Inventory(records, inv_wh_names)


def _spend(rng: np.random.Generator, t0: int, days: int, orders: pd.DataFrame) -> pd.DataFrame:
    """Marketing spend per day and channel, planted so that CAC per channel sits at
    W.CAC_BY_CHANNEL; 30% of it split over the pilot budget lines."""
    first_paid = first_paid_orders(orders)
    first_paid_day = (orders["paid_at"].to_numpy()[first_paid] + SHANGHAI_OFFSET) // DAY - (
        t0 + SHANGHAI_OFFSET) // DAY
    new_by = pd.crosstab(first_paid_day, orders["channel"].to_numpy()[first_paid]).reindex(
        index=range(days), columns=range(len(W.CHANNELS)), fill_value=0)
    cac = np.array([W.CAC_BY_CHANNEL[c] for c in W.CHANNELS])
    amount = (np.maximum(new_by.to_numpy(), 0.3) * cac * rng.lognormal(0, 0.12, new_by.shape))
    rows = []
    pilot_names = list(W.BUDGET_SPLIT)
    split_w = np.array(list(W.BUDGET_SPLIT.values()))
    for d in range(days):
        for j, c in enumerate(W.CHANNELS):
            total = int(round(amount[d, j] * 100))
            pilot_part = int(round(total * PILOT_BUDGET_SHARE))
            shares = rng.dirichlet(split_w * 200)
            parts = np.floor(shares * pilot_part).astype(np.int64)
            rows.append((d, c, "", total - parts.sum()))
            for p, cents in zip(pilot_names, parts, strict=True):
                rows.append((d, c, p, int(cents)))
    spend = pd.DataFrame(rows, columns=["spend_day", "channel", "pilot_category",
                                        "amount_cents"])
    spend["spend_id"] = _ids("SP", len(spend), 8)
    spend["updated_at"] = t0 + (spend["spend_day"] + 1) * DAY + 2 * 3600
    return spend


def _user_records(rng: np.random.Generator, t0: int, days: int, people: People,
                  cities: Cities, acquisition: np.ndarray) -> pd.DataFrame:
    """The users feed: each account at registration (the initial load for those before the
    window), then its changes (moves, new pet owners), each record carrying the earlier ones."""
    n_users, reg_day, pet, u_city = len(people.ids), people.reg_day, people.pet, people.city
    city_names, city_tier = cities.names, cities.tier
    users = pd.DataFrame({
        "user_id": people.ids,
        "registered_at": t0 + reg_day * DAY + rng.integers(0, DAY, n_users),
        "birth_year": people.birth_year, "gender": people.gender, "city": city_names[u_city],
        "city_tier": city_tier[u_city], "acquisition_channel": np.array(W.CHANNELS)[acquisition],
        "is_pet_owner": pet, "phone": _phone_numbers(rng, n_users),
        "id_card_no": np.where(rng.random(n_users) < 0.9, _id_cards(rng, people.birth_year), ""),
        "email": np.where(rng.random(n_users) < 0.55,
                          np.char.add(np.char.add("user", rng.integers(10**5, 10**7, n_users)
                                                  .astype(str)),
                                      rng.choice(np.array(["@qq.com", "@163.com",
                                                           "@126.com", "@foxmail.com"]),
                                                 n_users)), ""),
    })
    users["updated_at"] = users["registered_at"]
    users["_day"] = np.maximum(reg_day, 0)
    users.loc[reg_day < 0, "updated_at"] = t0 - 3600  # the initial load, before the window
    # Profile changes: moves (city, tier) and new pet owners, each a change record.
    move = rng.random(n_users) < 0.05
    pet_new = ~pet & (rng.random(n_users) < 0.04)
    change_day = np.maximum(reg_day, 0) + rng.integers(10, 400, n_users)
    changes = []
    u_no = [np.arange(n_users)]  # each record's user (ids are zero-padded sequence numbers)
    for mask, kind in ((move, "move"), (pet_new, "pet")):
        idx = np.flatnonzero(mask & (change_day < days))
        u_no.append(idx)
        ch_rows = users.iloc[idx].copy()
        if kind == "move":
            new_city = rng.choice(len(W.CITIES), size=len(idx),
                                  p=cities.weight / cities.weight.sum())
            ch_rows["city"] = city_names[new_city]
            ch_rows["city_tier"] = city_tier[new_city]
        else:
            ch_rows["is_pet_owner"] = True
        ch_rows["updated_at"] = t0 + change_day[idx] * DAY + rng.integers(0, DAY, len(idx))
        ch_rows["_day"] = change_day[idx]
        changes.append(ch_rows)
    users = pd.concat([users, *changes], ignore_index=True)
    u_no = np.concatenate(u_no)
    # Apply changes cumulatively: a second change record must carry the first's change too.
    order = np.lexsort((users["updated_at"].to_numpy(), u_no))
    users = users.iloc[order].reset_index(drop=True)
    u_no = pd.Series(u_no[order])
    later = u_no.duplicated().to_numpy()
    is_move = later & (users["city"] != users["city"].groupby(u_no).shift())
    users["city"] = users["city"].where(is_move | ~later)
    users["city_tier"] = users["city_tier"].where(is_move | ~later)
    users[["city", "city_tier"]] = users[["city", "city_tier"]].groupby(u_no).ffill()
    users["is_pet_owner"] = users["is_pet_owner"].groupby(u_no).cummax()
    users["_u"] = u_no.to_numpy()  # the record's user, as a number
    return users


def _merchant_records(rng: np.random.Generator, t0: int, days: int, merchants: Merchants,
                      cities: Cities) -> pd.DataFrame:
    """The merchants feed: each shop at onboarding, then its closure and growth to KA."""
    n_m, m_ka, m_onboard, m_close = (len(merchants.ids), merchants.ka, merchants.onboard,
                                     merchants.close)
    grow, grow_day, city_names = merchants.grow, merchants.grow_day, cities.names
    records = pd.DataFrame({
        "merchant_id": merchants.ids,
        "merchant_name": np.char.add(city_names[merchants.city], np.char.add(
            rng.choice(np.array(["藍海", "優選", "良品", "極客", "生活", "匠心", "鮮享", "樂活"]),
                       n_m), np.where(m_ka, "旗艦店", "小店"))),
        "size": np.where(m_ka, "KA", "SMB"), "onboarded_day": m_onboard,
        "closed_day": np.full(n_m, -1), "is_cross_border": merchants.cross,
        "home_currency": merchants.currency, "city": city_names[merchants.city],
    })
    records["updated_at"] = t0 + np.maximum(m_onboard, 0) * DAY + 9 * 3600
    records.loc[m_onboard < 0, "updated_at"] = t0 - 3600
    records["_day"] = np.maximum(m_onboard, 0)
    closing = np.flatnonzero(m_close < days)
    closes = records.iloc[closing].copy()
    closes["closed_day"] = m_close[closing]
    closes["updated_at"] = t0 + m_close[closing] * DAY + 18 * 3600
    closes["_day"] = m_close[closing]
    grows = records.iloc[np.flatnonzero(grow)].copy()
    grows["size"] = "KA"
    grows["updated_at"] = t0 + grow_day[grow] * DAY + 10 * 3600
    grows["_day"] = grow_day[grow]
    records = pd.concat([records, closes, grows], ignore_index=True)
    m_no = np.concatenate([np.arange(n_m), closing, np.flatnonzero(grow)])
    order = np.lexsort((records["updated_at"].to_numpy(), m_no))
    records = records.iloc[order].reset_index(drop=True)
    m_no = pd.Series(m_no[order])
    records["size"] = np.where((records["size"] == "KA").astype(np.int8).groupby(
        m_no).cummax().to_numpy() > 0, "KA", "SMB")
    records["closed_day"] = records["closed_day"].groupby(m_no).cummax()
    return records


def _sku_records(t0: int, days: int, cats: Categories, spus: Spus, merchants: Merchants,
                 skus: Skus) -> pd.DataFrame:
    """The SKUs feed: each SKU when its shop onboards, then its price change or green
    certification."""
    sku_spu, sku_m, m_onboard = skus.spu, skus.merchant, merchants.onboard
    records = pd.DataFrame({
        "sku_id": skus.ids, "spu_id": spus.ids[sku_spu], "merchant_id": merchants.ids[sku_m],
        "category_l1": np.array(cats.l1_names)[spus.l1[sku_spu]], "category_l2":
            spus.l2[sku_spu], "is_nonstandard": spus.nonstd[sku_spu],
        "pilot_category": skus.pilot, "green_certified": skus.green,
        "condition_grade": skus.grade, "currency": merchants.currency[sku_m],
        "list_price_cents": skus.price_cents, "unit_cost_cents": skus.cost_cents,
    })
    records["_day"] = np.maximum(m_onboard[sku_m], 0)
    records["updated_at"] = t0 + records["_day"] * DAY + 9 * 3600 + 60
    records.loc[m_onboard[sku_m] < 0, "updated_at"] = t0 - 3600
    chg = np.flatnonzero(skus.change_day < days)
    chg = chg[skus.change_day[chg] > records["_day"].to_numpy()[chg]]
    changes = records.iloc[chg].copy()
    changes["list_price_cents"] = skus.new_price_cents[chg]
    changes["pilot_category"] = skus.new_pilot[chg]
    changes["green_certified"] = skus.green[chg] | (skus.new_pilot[chg] == "sustainable")
    changes["_day"] = skus.change_day[chg]
    changes["updated_at"] = t0 + skus.change_day[chg] * DAY + 8 * 3600
    return pd.concat([records, changes], ignore_index=True)


def simulate_clean(start: date, days: int, scale: str, seed: int) -> Clean:
    """Simulate every source's clean records for `days` days from `start`."""
    if scale not in W.SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {sorted(W.SCALES)}")
    if days < 28:
        raise ValueError("simulate at least 28 days")
    sc = W.SCALES[scale]
    rng = np.random.default_rng(seed)
    world = Clean(start=start, days=days, seed=seed, scale=scale)
    t0 = world.t0()
    weights = day_weights(start, days)
    cdf = np.concatenate([[0.0], np.cumsum(weights / weights.mean())])  # cdf[d+1] = up to day d
    cities = _cities()

    # The draws, in this order (see above).
    cats = _categories(t0)
    spus = _spus(rng, sc, cats)
    merchants = _merchants(rng, sc, start, days, cats, cities)
    skus = _skus(rng, days, cats, spus, merchants)
    people = _people(rng, sc, days, cdf, cities)
    placed = _orders(rng, days, t0, cdf, cats, spus, merchants, skus, people)
    world.dropped_orders = placed.dropped
    lines = _lines(rng, start, days, placed, skus)
    pay = _payments(rng, t0, days, placed)
    fx = _fx(rng, start, days)

    # Money in CNY at the paid date's rate (exact cents; no draws).
    paid_day = np.where(pay.paid, (pay.paid_at + SHANGHAI_OFFSET) // DAY
                        - (t0 + SHANGHAI_OFFSET) // DAY, placed.day)
    o_rate = np.zeros(len(placed.user), dtype=np.int64)
    for cur in np.unique(placed.currency):
        m = placed.currency == cur
        o_rate[m] = fx.micro[cur][np.clip(paid_day[m], 0, days - 1) + 7]
    del paid_day
    li_net = lines.qty * lines.price_cents - lines.discount_cents
    li_gmv = (li_net * o_rate[lines.order] + 500_000) // 1_000_000
    n_o = len(placed.user)
    o_total = np.bincount(lines.order, weights=li_net, minlength=n_o).astype(np.int64)
    o_gmv = np.bincount(lines.order, weights=li_gmv, minlength=n_o).astype(np.int64)
    refunds = _refunds(rng, t0, days, placed, pay, o_total, o_rate)

    # The order's final state, as numbers: its position is its id's sequence number, channel
    # and currency are indexes into W.CHANNELS and extra["currencies"], status into EVENT_TYPES.
    refunded = np.zeros(n_o, dtype=bool)
    refunded[refunds["_o"].to_numpy()] = True
    status = np.where(refunded, 3, np.where(pay.cancelled_at >= 0, 2, np.where(pay.paid, 1, 0)))
    currencies, o_currency_code = np.unique(placed.currency, return_inverse=True)
    world.orders = pd.DataFrame({
        "user": placed.user, "merchant": placed.merchant,
        "channel": placed.channel.astype(np.int8), "currency": o_currency_code.astype(np.int8),
        "created_at": placed.created, "paid_at": pay.paid_at, "paid": pay.paid,
        "cancelled_at": pay.cancelled_at, "status": status.astype(np.int8),
        "rate_micro": o_rate, "gmv_cents": o_gmv, "total_cents": o_total, "day": placed.day,
    }, copy=False)  # the columns as they are: no copy into one block
    world.items = pd.DataFrame({  # lines by order; "o" is the order, "sku" the SKU's index
        "o": lines.order, "line_no": lines.line_no, "sku": lines.sku, "qty": lines.qty,
        "price_cents": lines.price_cents, "discount_cents": lines.discount_cents,
        "gmv_cents": li_gmv, "cost_cents": lines.qty * skus.cost_cents[lines.sku],
    }, copy=False)  # the columns as they are: no copy into one block
    del li_net, li_gmv, o_total, o_rate, status, refunded
    events = _order_events(placed, pay, refunds)
    shipments = _shipments(rng, t0, days, weights, placed, pay, o_currency_code, currencies,
                           o_gmv, people, cities)
    del o_currency_code, o_gmv
    inventory = _inventory(rng, t0, days, merchants, skus, lines)
    del lines
    spend = _spend(rng, t0, days, world.orders)
    users = _user_records(rng, t0, days, people, cities, placed.acquisition)
    merchant_records = _merchant_records(rng, t0, days, merchants, cities)
    sku_records = _sku_records(t0, days, cats, spus, merchants, skus)
    warehouses = pd.DataFrame(W.WAREHOUSES, columns=["warehouse_id", "city", "country",
                                                     "is_overseas"])
    warehouses["updated_at"] = t0 - 3600
    warehouses["_day"] = 0

    # The landing day of each record (`_day`).
    def local_day(ts):
        return (ts + SHANGHAI_OFFSET) // DAY - (t0 + SHANGHAI_OFFSET) // DAY

    events["_day"] = local_day(events["updated_at"])
    refunds["_day"] = local_day(refunds["updated_at"])
    shipments.records["_day"] = local_day(shipments.records["updated_at"])
    inventory.records["_day"] = inventory.records["snapshot_day"]
    spend["_day"] = spend["spend_day"] + 1  # the ad platforms report a day later
    fx_records = fx.records
    fx_records["_day"] = fx_records["rate_day"]
    fx_records["published_at"] = t0 + fx_records["rate_day"] * DAY + 9 * 3600 + 15 * 60
    spend = spend[spend["_day"] < days]

    world.tables = {
        "users": users, "merchants": merchant_records, "categories": cats.records,
        "skus": sku_records, "orders": events, "refunds": refunds,
        "shipments": shipments.records, "inventory": inventory.records,
        "warehouses": warehouses, "spend": spend, "fx_rates": fx_records,
    }
    world.extra = {
        "sku_frame": pd.DataFrame({
            "sku_id": skus.ids, "spu_id": spus.ids[skus.spu],
            "merchant_id": merchants.ids[skus.merchant],
            "category_l1": np.array(cats.l1_names)[spus.l1[skus.spu]],
            "is_nonstandard": spus.nonstd[skus.spu], "pilot_category": skus.pilot,
            "new_pilot": skus.new_pilot, "change_day": skus.change_day,
            "unit_cost_cents": skus.cost_cents,
        }),
        "user_ids": people.ids, "m_ids": merchants.ids, "m_onboard": merchants.onboard,
        "m_close": merchants.close, "m_size": np.where(merchants.ka, "KA", "SMB"),
        "grow_day": merchants.grow_day, "birth_year": people.birth_year,
        "sku_ids": skus.ids, "ship_warehouses": shipments.warehouses,
        "ship_carriers": shipments.carriers, "inventory_warehouses": inventory.warehouses,
        "currencies": currencies, "user_tier": cities.tier[people.city],
        "reg_day": people.reg_day,
    }
    # The rest of the plan's feeds, from a random stream of their own (no draw above moves)
    from lanhai.simulator.plan_feeds import plan_feeds

    world.tables.update(plan_feeds(world))
    return world
