"""Simulate the marketplace's clean source records, vectorised with numpy.

Everything is drawn from one seeded generator, so a (start, days, scale, seed) tuple always
gives the same world. Times are epoch seconds (UTC); days are indices from the start date in
Asia/Shanghai. Money is held in integer cents so that the truths are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from lanhai.simulator import world as W

DAY = 86_400
SHANGHAI_OFFSET = 8 * 3600
# Orders per customer in a window, tuned with `lanhai generate` so that the platform's 90-day
# repurchase rate sits at the plan's 35% baseline (see calibrate_report in truth.py).
REPEAT_RATE_PER_DAY = 0.0115
REPEAT_SHAPE = 0.55
LIFETIME_DAYS = 260.0
LOGISTICS_COST_FACTOR = (0.25, 0.375)
SILVER_SMART_DEVICE_BOOST = 9.0
# Share of repeat orders placed with a shop the customer bought from before.
SHOP_LOYALTY = 0.5
# Homogeneous categories (the same product sold by many shops): one SPU per this many orders.
ORDERS_PER_HOMOGENEOUS_SPU = 800
HOMOGENEOUS = ("3c_appliances", "beauty")


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

    # --- categories ---------------------------------------------------------------------
    cat_rows = []
    for l1, (zh, en, *_rest, l2s) in W.CATEGORIES.items():
        for l2 in l2s:
            cat_rows.append((l2, l1, f"{zh}·{l2}", f"{en} / {l2.replace('_', ' ')}",
                             l1 == "smart_devices"))
    categories = pd.DataFrame(cat_rows, columns=["category_l2", "category_l1", "name_zh",
                                                 "name_en", "is_smart_device"])
    categories["updated_at"] = t0
    categories["_day"] = 0
    l1_names = list(W.CATEGORIES)
    l1_weight = np.array([W.CATEGORIES[c][2] for c in l1_names])

    # --- SPUs ---------------------------------------------------------------------------
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
    spu_price[spu_pilot == "second_hand"] *= 0.55

    # --- merchants ----------------------------------------------------------------------
    n_m = sc.merchants
    m_ka = rng.random(n_m) < 0.08
    m_new = rng.random(n_m) < 0.45
    m_onboard = np.where(m_new, rng.integers(0, max(days - 30, 1), n_m),
                         -rng.integers(1, 5 * 365, n_m))
    m_close = np.full(n_m, np.iinfo(np.int32).max, dtype=np.int64)
    # Stratified first-year closures per onboarding month keep survival near the plan's 60%.
    onboard_month = (pd.Timestamp(start) + pd.to_timedelta(m_onboard, unit="D")).to_period("M")
    for month in np.unique(onboard_month[m_new]):
        members = np.flatnonzero(m_new & (onboard_month == month) & ~m_ka)
        k = int(round(0.40 * len(members)))
        chosen = rng.choice(members, size=k, replace=False) if k else members[:0]
        m_close[chosen] = m_onboard[chosen] + rng.integers(60, 365, k)
    late = ~m_ka & (m_close > 10**9) & (rng.random(n_m) < 0.10)
    m_close[late] = np.maximum(m_onboard[late], 0) + 365 + rng.integers(1, 365, late.sum())
    old_exit = ~m_new & ~m_ka & (rng.random(n_m) < 0.07)
    m_close[old_exit] = rng.integers(0, days, old_exit.sum())
    m_close[m_close >= days] = np.iinfo(np.int32).max  # closures after the window are unknown
    m_cross = rng.random(n_m) < 0.08
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
    city_names = np.array([c[0] for c in W.CITIES])
    city_tier = np.array([c[1] for c in W.CITIES])
    city_w = np.array([c[2] for c in W.CITIES], dtype=float)
    m_city = rng.choice(len(W.CITIES), size=n_m, p=city_w / city_w.sum())
    # New shops get the platform's newcomer traffic support, so most that stay open keep selling.
    m_weight = np.where(m_ka, 4.0, np.where(m_new, 2.5, 1.0)) * (0.35 + rng.pareto(2.5, n_m))
    m_ids = _ids("M", n_m, 6)
    # Some SMBs grow into KA during the window: a change record on that day.
    grow = ~m_ka & (rng.random(n_m) < 0.03)
    grow_day = np.where(grow, rng.integers(0, days, n_m), -1)
    grow &= grow_day > np.maximum(m_onboard, 0)
    grow &= grow_day < m_close
    grow_day = np.where(grow, grow_day, -1)  # only merchants that really grew have a day

    # --- SKUs: each SPU sold by one or more merchants of its category --------------------
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
    newcomers = np.repeat(np.flatnonzero(m_new & ~m_ka), 3)
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
    whole_units = np.isin(m_currency[sku_m], ["JPY", "KRW"])
    price_cny = spu_price[sku_spu] * rng.uniform(0.92, 1.08, n_sku)
    sku_price = np.where(whole_units, np.round(price_cny / rate0),
                         np.round(price_cny / rate0, 2))
    sku_price_cents = np.round(sku_price * 100).astype(np.int64)
    sku_cost_cents = np.round(price_cny * rng.uniform(0.55, 0.72, n_sku) * 100).astype(np.int64)
    sku_grade = np.where(spu_pilot[sku_spu] == "second_hand",
                         rng.choice(np.array(["A", "B", "C", "D"]), n_sku), "")
    sku_pilot = spu_pilot[sku_spu].copy()
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
    sku_ids = _ids("S", n_sku, 7)
    spu_ids = _ids("P", n_spu, 6)

    # --- users --------------------------------------------------------------------------
    per_customer = 1.0 + REPEAT_RATE_PER_DAY * min(LIFETIME_DAYS, days / 2) * 0.75
    n_users = int(sc.orders / per_customer / 0.84 / 0.955 * 1.2)
    pre = rng.random(n_users) < 0.25
    reg_day = np.where(pre, -rng.integers(30, 5 * 365, n_users),
                       _sample_cdf(rng, cdf, np.zeros(n_users, int),
                                   np.full(n_users, days)) - 1)
    byear_band = rng.choice(4, size=n_users, p=[0.34, 0.37, 0.17, 0.12])
    lo = np.array([1995, 1980, 1966, 1940])[byear_band]
    hi = np.array([2009, 1994, 1979, 1964])[byear_band]
    birth_year = rng.integers(lo, hi + 1)
    genz = byear_band == 0
    silver = byear_band == 3
    u_city = rng.choice(len(W.CITIES), size=n_users, p=city_w / city_w.sum())
    u_lower = np.isin(city_tier[u_city], W.LOWER_TIERS)
    pet = rng.random(n_users) < np.where(genz, 0.28, 0.14)
    gender = rng.choice(np.array(["F", "M", "U"]), size=n_users, p=[0.52, 0.45, 0.03])
    user_ids = _ids("U", n_users, 8)

    def channel_probs(n_rows, day_idx, g, s, low):
        base = np.array([0.37, 0.28, 0.10, 0.05, 0.065, 0.135])
        p = np.tile(base, (n_rows, 1))
        p[:, 2:5] *= (1.0 + 0.15 * day_idx / 365.0)[:, None]
        p[g, 2] *= 1.5
        p[g, 3] *= 1.6
        p[s, 4] *= 1.8
        p[s, 0] *= 0.8
        p[low, 4] *= 1.5
        return p

    # --- orders: first orders at arrival, repeats over each customer's lifetime ----------
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
    hour_w = np.array([2, 1, .6, .4, .3, .4, .8, 1.5, 2.4, 3, 3.3, 3.5, 3.8, 3.4, 3.2, 3.2,
                       3.3, 3.5, 3.8, 4.5, 5.4, 6, 5.2, 3.6])
    hour = rng.choice(24, size=n_o, p=hour_w / hour_w.sum())
    o_created = t0 + o_day * DAY + hour * 3600 + rng.integers(0, 3600, n_o)

    g, s, low = genz[o_user], silver[o_user], u_lower[o_user]
    ch = _choice(rng, channel_probs(n_o, o_day, g, s, low))
    # Acquisition channel = first order's channel; non-buyers get one drawn the same way.
    acq = _choice(rng, channel_probs(n_users, np.clip(reg_day, 0, days), genz, silver, u_lower))
    acq[o_user[o_first]] = ch[o_first]

    # --- what each order buys: a pilot SPU, or an SPU of a category the segment prefers ---
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
    sku_w = (m_weight / m_weight.max())[sku_m]
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
    m_sorted = np.argsort(sku_m, kind="stable")
    m_first = np.searchsorted(sku_m[m_sorted], np.arange(n_m))
    m_count = np.searchsorted(sku_m[m_sorted], np.arange(n_m), side="right") - m_first
    fav_l = fav[loyal]
    o_sku[loyal] = m_sorted[m_first[fav_l] + (rng.random(loyal.sum()) * m_count[fav_l]).astype(
        int)]
    del first_of, placed_first, fav, loyal, fav_l, g, s, low, hour, o_first, pilot_pick, o_l1
    keep = o_sku >= 0
    world.dropped_orders = int((~keep).sum())
    # A customer whose first order could not be placed starts with their next one.
    o_user, o_day, o_created, ch, o_sku = (x[keep] for x in (o_user, o_day, o_created, ch, o_sku))
    order_sort = np.lexsort((o_user, o_created))
    o_user, o_day, o_created, ch, o_sku = (x[order_sort] for x in
                                          (o_user, o_day, o_created, ch, o_sku))
    del keep, order_sort
    n_o = len(o_user)
    o_m = sku_m[o_sku]
    o_currency = m_currency[o_m]

    # --- order lines ----------------------------------------------------------------------
    n_extra = np.minimum(rng.poisson(0.35, n_o), 3)
    li_order = np.concatenate([np.arange(n_o), np.repeat(np.arange(n_o), n_extra)])
    extra_m = np.repeat(o_m, n_extra)
    extra_sku = m_sorted[m_first[extra_m] + (rng.random(len(extra_m)) * m_count[extra_m]).astype(
        int)]
    li_sku = np.concatenate([o_sku, extra_sku])
    # each (order, SKU) once, first come first kept, then by order (stable)
    first = ~pd.Series(li_order * n_sku + li_sku).duplicated().to_numpy()
    li_order, li_sku = li_order[first], li_sku[first]
    by_order = np.argsort(li_order, kind="stable")
    li_order, li_sku = li_order[by_order], li_sku[by_order]
    n_li = len(li_order)
    del first, by_order, extra_m, extra_sku, n_extra
    li_no = (np.arange(n_li) - np.searchsorted(li_order, li_order)) + 1
    li_qty = rng.choice([1, 2, 3, 4, 5, 6], size=n_li, p=[0.78, 0.15, 0.05, 0.01, 0.005, 0.005])
    li_day = o_day[li_order]
    price_now = np.where(li_day >= sku_change_day[li_sku], sku_new_price_cents[li_sku],
                         sku_price_cents[li_sku])
    promo = festival_price_factor(start, days)[li_day] * np.where(rng.random(n_li) < 0.1, 0.95,
                                                                  1.0)
    li_whole = np.isin(o_currency[li_order], ["JPY", "KRW"])
    unit = price_now * promo
    li_price = np.where(li_whole, np.round(unit / 100) * 100, np.round(unit)).astype(np.int64)
    li_price = np.maximum(li_price, 100)
    has_disc = rng.random(n_li) < 0.25
    disc = li_qty * li_price * rng.uniform(0.03, 0.15, n_li) * has_disc
    li_disc = np.where(li_whole, np.round(disc / 100) * 100, np.round(disc)).astype(np.int64)
    del li_day, price_now, promo, unit, has_disc, disc, li_whole

    # --- payment, cancellation, refund ----------------------------------------------------
    paid = rng.random(n_o) < 0.955
    o_paid = np.where(paid, o_created + 30 + rng.exponential(150, n_o).astype(np.int64), -1)
    o_cancel = np.where(~paid, o_created + 1800, -1)
    cancel_after = paid & (rng.random(n_o) < 0.015)
    o_cancel = np.where(cancel_after, o_paid + rng.integers(1800, 72_000, n_o), o_cancel)
    end_ts = t0 + days * DAY
    o_cancel = np.where(o_cancel >= end_ts, -1, o_cancel)
    paid &= o_paid < end_ts
    o_paid = np.where(paid, o_paid, -1)

    # FX: business-day rates from a week before the start; a date uses the latest on or before.
    fx_days = np.arange(-7, days)
    fx_dates = pd.Timestamp(start) + pd.to_timedelta(fx_days, unit="D")
    business = fx_dates.dayofweek < 5
    fx_rows = []
    fx_micro = {"CNY": np.full(len(fx_days), 1_000_000, dtype=np.int64)}
    for cur in W.CURRENCIES:
        walk = W.FX_BASE[cur] * np.exp(np.cumsum(rng.normal(0, 0.003, len(fx_days))))
        micro = np.round(walk * 1e6).astype(np.int64)
        idx = np.where(business, np.arange(len(fx_days)), -1)
        idx = np.maximum.accumulate(idx)
        fx_micro[cur] = micro[idx]
        for i in np.flatnonzero(business):
            fx_rows.append((int(fx_days[i]), cur, int(micro[i])))
    fx = pd.DataFrame(fx_rows, columns=["rate_day", "currency", "micro"])

    paid_day = np.where(paid, (o_paid + SHANGHAI_OFFSET) // DAY - (t0 + SHANGHAI_OFFSET) // DAY,
                        o_day)
    o_rate = np.zeros(n_o, dtype=np.int64)
    for cur in np.unique(o_currency):
        m = o_currency == cur
        o_rate[m] = fx_micro[cur][np.clip(paid_day[m], 0, days - 1) + 7]
    li_net = li_qty * li_price - li_disc
    li_gmv = (li_net * o_rate[li_order] + 500_000) // 1_000_000
    o_total = np.bincount(li_order, weights=li_net, minlength=n_o).astype(np.int64)
    o_gmv = np.bincount(li_order, weights=li_gmv, minlength=n_o).astype(np.int64)

    refund = paid & ~cancel_after & (rng.random(n_o) < 0.06)
    r_at = o_paid + rng.integers(2 * DAY, 20 * DAY, n_o)
    refund &= r_at < end_ts
    full = rng.random(n_o) < 0.7
    r_amount = np.where(full, o_total, np.round(o_total * rng.uniform(0.2, 0.8, n_o)))
    r_amount = np.where(np.isin(o_currency, ["JPY", "KRW"]), np.round(r_amount / 100) * 100,
                        r_amount).astype(np.int64)
    r_amount = np.maximum(r_amount, 1)
    refund_idx = np.flatnonzero(refund)
    refunds = pd.DataFrame({
        "refund_id": _ids("R", len(refund_idx), 8),
        "_o": refund_idx,  # the order, as a number (the writer spells out its id)
        "currency": o_currency[refund_idx],
        "amount_cents": r_amount[refund_idx],
        "reason": rng.choice(np.array(["quality", "not_as_described", "late_delivery",
                                       "changed_mind"]), len(refund_idx)),
        "refunded_at": r_at[refund_idx],
        "updated_at": r_at[refund_idx],
        "_cny_cents": (r_amount[refund_idx] * o_rate[refund_idx] + 500_000) // 1_000_000,
    })
    del full, r_amount, paid_day

    # The order's final state, as numbers: its position is its id's sequence number, channel
    # and currency are indexes into W.CHANNELS and extra["currencies"], status into EVENT_TYPES.
    status = np.where(refund, 3, np.where(o_cancel >= 0, 2, np.where(paid, 1, 0)))
    currencies, o_currency_code = np.unique(o_currency, return_inverse=True)
    world.orders = pd.DataFrame({
        "user": o_user, "merchant": o_m, "channel": ch.astype(np.int8),
        "currency": o_currency_code.astype(np.int8), "created_at": o_created, "paid_at": o_paid,
        "paid": paid, "cancelled_at": o_cancel, "status": status.astype(np.int8),
        "rate_micro": o_rate, "gmv_cents": o_gmv, "total_cents": o_total, "day": o_day,
    }, copy=False)  # the columns as they are: no copy into one block
    world.items = pd.DataFrame({  # lines by order; "o" is the order, "sku" the SKU's index
        "o": li_order, "line_no": li_no, "sku": li_sku, "qty": li_qty, "price_cents": li_price,
        "discount_cents": li_disc, "gmv_cents": li_gmv,
        "cost_cents": li_qty * sku_cost_cents[li_sku],
    }, copy=False)  # the columns as they are: no copy into one block
    del li_order, li_no, li_price, li_disc, li_gmv, li_net, o_total, o_rate, o_m, ch, status
    del o_sku, o_currency_code

    # Order events: each carries the full order as it is after the event.
    ev = [("created", np.arange(n_o), o_created)]
    ev.append(("paid", np.flatnonzero(paid), o_paid[paid]))
    cancelled = o_cancel >= 0
    ev.append(("cancelled", np.flatnonzero(cancelled), o_cancel[cancelled]))
    ev.append(("refunded", refund_idx, r_at[refund_idx]))
    # the event's kind: an index into EVENT_TYPES (also the order's status after it)
    ev_kind = np.concatenate([np.full(len(i), EVENT_TYPES.index(t), dtype=np.int8)
                              for t, i, _ in ev])
    ev_o = np.concatenate([i for _, i, _ in ev])
    ev_ts = np.concatenate([ts for _, _, ts in ev])
    ev_paid = np.where((ev_kind != 0) & paid[ev_o], o_paid[ev_o], -1)
    ev_cancel = np.where(ev_kind == 2, o_cancel[ev_o], -1)  # cancelled; a refund clears it
    # Kept as numbers (order, kind); the landing writer spells out ids and names from them.
    # by time, then order (ids are zero-padded sequence numbers: the index sorts the same)
    by = np.lexsort((ev_o, ev_ts))
    events = pd.DataFrame({
        "_o": ev_o[by], "_kind": ev_kind[by], "created_at": o_created[ev_o[by]],
        "paid_at": ev_paid[by], "cancelled_at": ev_cancel[by], "updated_at": ev_ts[by],
    }, copy=False)  # the columns as they are: no copy into one block
    del ev, ev_kind, ev_o, ev_ts, ev_paid, ev_cancel, o_created, o_cancel, by

    # --- shipments ------------------------------------------------------------------------
    shipped = paid & ~cancel_after
    s_o = np.flatnonzero(shipped)
    festival_slow = weights > np.median(weights) * 1.3  # peak days: carriers run late
    lag = rng.integers(2 * 3600, 60 * 3600, len(s_o)) + festival_slow[o_day[s_o]] * rng.integers(
        0, 2 * DAY, len(s_o))
    split = rng.random(len(s_o)) < 0.05
    sh_o = np.concatenate([s_o, s_o[split]])
    sh_ship = np.concatenate([o_paid[s_o] + lag, o_paid[s_o[split]] + lag[split] + rng.integers(
        DAY, 3 * DAY, split.sum())])
    o_cross = o_currency != "CNY"
    cross = o_cross[sh_o]
    overseas = {"USD": "WH-US01", "EUR": "WH-DE01", "JPY": "WH-JP01", "KRW": "WH-JP01",
                "HKD": "WH-JP01"}
    dom = np.array([w[0] for w in W.WAREHOUSES if not w[3]])
    # Warehouses and carriers as codes (indexes into their sorted names): the same draws as
    # choosing the names themselves, without a string per shipment.
    wh_names = np.array(sorted(set(dom) | set(overseas.values())))
    wh_code = np.searchsorted(wh_names, dom)[rng.choice(len(dom), size=len(sh_o))]
    over_code = np.searchsorted(wh_names, [overseas.get(c, dom[0]) for c in currencies])
    wh_code[cross] = over_code[world.orders["currency"].to_numpy()[sh_o[cross]]]
    carrier_names = np.array(sorted(set(W.CROSS_BORDER_CARRIERS) | set(W.DOMESTIC_CARRIERS)))
    carrier_code = np.where(
        cross,
        np.searchsorted(carrier_names, W.CROSS_BORDER_CARRIERS)[
            rng.choice(len(W.CROSS_BORDER_CARRIERS), len(sh_o))],
        np.searchsorted(carrier_names, W.DOMESTIC_CARRIERS)[
            rng.choice(len(W.DOMESTIC_CARRIERS), len(sh_o))])
    city_promise = np.select([np.isin(city_tier, ["tier1", "new_tier1"]), city_tier == "tier2"],
                             [2, 3], 4)
    promise_days = np.where(cross, 8, city_promise[u_city[o_user[sh_o]]])
    sh_promised = sh_ship + promise_days * DAY
    transit = promise_days * DAY * rng.lognormal(np.log(0.66), 0.28, len(sh_o))
    transit *= np.where(festival_slow[np.clip((sh_ship - t0) // DAY, 0, days - 1)], 1.25, 1.0)
    sh_deliv = sh_ship + transit.astype(np.int64)
    del transit, promise_days, cross
    f = rng.uniform(*LOGISTICS_COST_FACTOR, len(s_o)) * np.where(o_cross[s_o], 1.3, 1.0)
    cost = np.maximum(np.round(o_gmv[s_o] * f), 600).astype(np.int64)
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
    shipments = pd.DataFrame({
        "_sh": rec, "_o": sh_o[rec], "_wh": wh_code[rec].astype(np.int8),
        "_carrier": carrier_code[rec].astype(np.int8), "shipped_at": sh_ship[rec],
        "promised_at": sh_promised[rec],
        "delivered_at": np.where(by_time >= n_sh, sh_deliv[rec], -1),
        "logistics_cost_cents": sh_cost[rec], "updated_at": sh_updated[by_time],
    }, copy=False)  # the columns as they are: no copy into one block
    del sh_no, sh_updated, by_time, rec, sh_ship, sh_promised, sh_deliv, sh_cost, wh_code
    del carrier_code, delivered

    # --- inventory snapshots: stocked SKU x warehouse pairs only --------------------------
    stocked_m = rng.random(n_m) < np.where(m_ka, 0.5, 0.12)
    inv_sku = np.flatnonzero(stocked_m[sku_m])
    inv_sku = inv_sku[rng.random(len(inv_sku)) < 0.8]
    sold = np.bincount(li_sku, weights=li_qty, minlength=n_sku) / days
    cover = rng.uniform(28, 110, n_m)[sku_m[inv_sku]]
    level = np.maximum(sold[inv_sku] * cover, 2.0)
    inv_wh = np.where(m_currency[sku_m[inv_sku]] != "CNY",
                      [overseas.get(c, "WH-SH01") for c in m_currency[sku_m[inv_sku]]],
                      rng.choice(dom, size=len(inv_sku)))
    two = rng.random(len(inv_sku)) < 0.2
    inv_sku = np.concatenate([inv_sku, inv_sku[two]])
    inv_wh = np.concatenate([inv_wh, rng.choice(dom, size=two.sum())])
    level = np.concatenate([level * np.where(two, 0.6, 1.0), level[two] * 0.4])
    pairs_inv = pd.DataFrame({"sku": inv_sku, "wh": inv_wh, "level": level}).drop_duplicates(
        ["sku", "wh"])
    inv_sku, inv_wh, level = (pairs_inv[c].to_numpy() for c in ("sku", "wh", "level"))
    first_day = np.maximum(m_onboard[sku_m[inv_sku]], 0)
    last_day = np.minimum(m_close[sku_m[inv_sku]], days) - 1
    n_days = np.maximum(last_day - first_day + 1, 0)
    inv_pair = np.repeat(np.arange(len(inv_sku)), n_days)
    inv_day = first_day[inv_pair] + (np.arange(len(inv_pair)) - np.repeat(
        np.cumsum(n_days) - n_days, n_days))
    cycle = rng.integers(10, 35, len(inv_sku))
    phase = rng.integers(0, 35, len(inv_sku))
    saw = ((inv_day + phase[inv_pair]) % cycle[inv_pair]) / cycle[inv_pair]
    qty = np.round(level[inv_pair] * (1.6 - 1.2 * saw)).astype(np.int64)
    inv_wh_names, inv_wh_code = np.unique(inv_wh, return_inverse=True)
    inventory = pd.DataFrame({  # SKU and warehouse as indexes into their ids
        "snapshot_day": inv_day, "_sku": inv_sku[inv_pair], "_wh": inv_wh_code[inv_pair],
        "qty_on_hand": qty, "exported_at": t0 + inv_day * DAY + 23 * 3600 + 1800,
    }, copy=False)  # the columns as they are: no copy into one block
    del inv_pair, inv_day, saw, qty

    # --- marketing spend: planted so that CAC per channel sits at W.CAC_BY_CHANNEL ---------
    first_paid = first_paid_orders(world.orders)
    first_paid_day = (world.orders["paid_at"].to_numpy()[first_paid] + SHANGHAI_OFFSET) // DAY - (
        t0 + SHANGHAI_OFFSET) // DAY
    new_by = pd.crosstab(first_paid_day, world.orders["channel"].to_numpy()[first_paid]).reindex(
        index=range(days), columns=range(len(W.CHANNELS)), fill_value=0)
    cac = np.array([W.CAC_BY_CHANNEL[c] for c in W.CHANNELS])
    amount = (np.maximum(new_by.to_numpy(), 0.3) * cac * rng.lognormal(0, 0.12, new_by.shape))
    spend_rows = []
    pilot_names = list(W.BUDGET_SPLIT)
    split_w = np.array(list(W.BUDGET_SPLIT.values()))
    for d in range(days):
        for j, c in enumerate(W.CHANNELS):
            total = int(round(amount[d, j] * 100))
            pilot_part = int(round(total * 0.3))
            shares = rng.dirichlet(split_w * 200)
            parts = np.floor(shares * pilot_part).astype(np.int64)
            spend_rows.append((d, c, "", total - parts.sum()))
            for p, cents in zip(pilot_names, parts, strict=True):
                spend_rows.append((d, c, p, int(cents)))
    spend = pd.DataFrame(spend_rows, columns=["spend_day", "channel", "pilot_category",
                                              "amount_cents"])
    spend["spend_id"] = _ids("SP", len(spend), 8)
    spend["updated_at"] = t0 + (spend["spend_day"] + 1) * DAY + 2 * 3600

    # --- the records each source sends, with the landing day of each (`_day`) -------------
    users = pd.DataFrame({
        "user_id": user_ids, "registered_at": t0 + reg_day * DAY + rng.integers(0, DAY, n_users),
        "birth_year": birth_year, "gender": gender, "city": city_names[u_city],
        "city_tier": city_tier[u_city], "acquisition_channel": np.array(W.CHANNELS)[acq],
        "is_pet_owner": pet, "phone": _phone_numbers(rng, n_users),
        "id_card_no": np.where(rng.random(n_users) < 0.9, _id_cards(rng, birth_year), ""),
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
            new_city = rng.choice(len(W.CITIES), size=len(idx), p=city_w / city_w.sum())
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

    merchants = pd.DataFrame({
        "merchant_id": m_ids,
        "merchant_name": np.char.add(city_names[m_city], np.char.add(
            rng.choice(np.array(["藍海", "優選", "良品", "極客", "生活", "匠心", "鮮享", "樂活"]),
                       n_m), np.where(m_ka, "旗艦店", "小店"))),
        "size": np.where(m_ka, "KA", "SMB"), "onboarded_day": m_onboard,
        "closed_day": np.full(n_m, -1), "is_cross_border": m_cross, "home_currency": m_currency,
        "city": city_names[m_city],
    })
    merchants["updated_at"] = t0 + np.maximum(m_onboard, 0) * DAY + 9 * 3600
    merchants.loc[m_onboard < 0, "updated_at"] = t0 - 3600
    merchants["_day"] = np.maximum(m_onboard, 0)
    closing = np.flatnonzero(m_close < days)
    closes = merchants.iloc[closing].copy()
    closes["closed_day"] = m_close[closing]
    closes["updated_at"] = t0 + m_close[closing] * DAY + 18 * 3600
    closes["_day"] = m_close[closing]
    grows = merchants.iloc[np.flatnonzero(grow)].copy()
    grows["size"] = "KA"
    grows["updated_at"] = t0 + grow_day[grow] * DAY + 10 * 3600
    grows["_day"] = grow_day[grow]
    merchants = pd.concat([merchants, closes, grows], ignore_index=True)
    m_no = np.concatenate([np.arange(n_m), closing, np.flatnonzero(grow)])
    order = np.lexsort((merchants["updated_at"].to_numpy(), m_no))
    merchants = merchants.iloc[order].reset_index(drop=True)
    m_no = pd.Series(m_no[order])
    merchants["size"] = np.where((merchants["size"] == "KA").astype(np.int8).groupby(
        m_no).cummax().to_numpy() > 0, "KA", "SMB")
    merchants["closed_day"] = merchants["closed_day"].groupby(m_no).cummax()

    skus = pd.DataFrame({
        "sku_id": sku_ids, "spu_id": spu_ids[sku_spu], "merchant_id": m_ids[sku_m],
        "category_l1": np.array(l1_names)[spu_l1[sku_spu]], "category_l2": spu_l2[sku_spu],
        "is_nonstandard": spu_nonstd[sku_spu], "pilot_category": sku_pilot,
        "green_certified": sku_green, "condition_grade": sku_grade,
        "currency": m_currency[sku_m], "list_price_cents": sku_price_cents,
        "unit_cost_cents": sku_cost_cents,
    })
    skus["_day"] = np.maximum(m_onboard[sku_m], 0)
    skus["updated_at"] = t0 + skus["_day"] * DAY + 9 * 3600 + 60
    skus.loc[m_onboard[sku_m] < 0, "updated_at"] = t0 - 3600
    chg = np.flatnonzero(sku_change_day < days)
    chg = chg[sku_change_day[chg] > skus["_day"].to_numpy()[chg]]
    sku_changes = skus.iloc[chg].copy()
    sku_changes["list_price_cents"] = sku_new_price_cents[chg]
    sku_changes["pilot_category"] = sku_new_pilot[chg]
    sku_changes["green_certified"] = sku_green[chg] | (sku_new_pilot[chg] == "sustainable")
    sku_changes["_day"] = sku_change_day[chg]
    sku_changes["updated_at"] = t0 + sku_change_day[chg] * DAY + 8 * 3600
    skus = pd.concat([skus, sku_changes], ignore_index=True)

    warehouses = pd.DataFrame(W.WAREHOUSES, columns=["warehouse_id", "city", "country",
                                                     "is_overseas"])
    warehouses["updated_at"] = t0 - 3600
    warehouses["_day"] = 0

    events["_day"] = (events["updated_at"] + SHANGHAI_OFFSET) // DAY - (t0 + SHANGHAI_OFFSET) // DAY
    refunds["_day"] = (refunds["updated_at"] + SHANGHAI_OFFSET) // DAY - (
        t0 + SHANGHAI_OFFSET) // DAY
    shipments["_day"] = (shipments["updated_at"] + SHANGHAI_OFFSET) // DAY - (
        t0 + SHANGHAI_OFFSET) // DAY
    inventory["_day"] = inventory["snapshot_day"]
    spend["_day"] = spend["spend_day"] + 1  # the ad platforms report a day later
    fx["_day"] = fx["rate_day"]
    fx["published_at"] = t0 + fx["rate_day"] * DAY + 9 * 3600 + 15 * 60
    spend = spend[spend["_day"] < days]

    world.tables = {
        "users": users, "merchants": merchants, "categories": categories, "skus": skus,
        "orders": events, "refunds": refunds, "shipments": shipments, "inventory": inventory,
        "warehouses": warehouses, "spend": spend, "fx_rates": fx,
    }
    world.extra = {
        "sku_frame": pd.DataFrame({
            "sku_id": sku_ids, "spu_id": spu_ids[sku_spu], "merchant_id": m_ids[sku_m],
            "category_l1": np.array(l1_names)[spu_l1[sku_spu]], "is_nonstandard":
                spu_nonstd[sku_spu], "pilot_category": sku_pilot, "new_pilot": sku_new_pilot,
            "change_day": sku_change_day, "unit_cost_cents": sku_cost_cents,
        }),
        "user_ids": user_ids, "m_ids": m_ids, "m_onboard": m_onboard, "m_close": m_close,
        "m_size": np.where(m_ka, "KA", "SMB"), "grow_day": grow_day, "birth_year": birth_year,
        "sku_ids": sku_ids, "ship_warehouses": wh_names, "ship_carriers": carrier_names,
        "inventory_warehouses": inv_wh_names, "currencies": currencies,
        "user_tier": city_tier[u_city],
    }
    return world
