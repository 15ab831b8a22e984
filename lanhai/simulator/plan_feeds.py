"""The rest of the plan's feeds (PLAN.md "The rest of the plan"): the experimentation platform
(experiments, assignments, exposures), listing audits, product reviews and the quarterly
merchant survey, made from the world the orders already live in.

They draw from a random stream of their own (`FEEDS_STREAM`), after the rest of the world is
made, so adding them changed no record of the other feeds. Their truths (`truths`) are
computed from the clean records alone, by the definitions, not from how they were drawn:

- A/B conversion: an exposed user converts when they have a paid order in [first exposure,
  first exposure + 7 days). The draw plants a true lift in some experiments and none in
  others by choosing, among the users assigned, buyers and non-buyers of the experiment's
  window in the variant's proportion; one experiment sends too many users to its treatment
  (a sample-ratio mismatch); one has not reached its planned size when the data ends.
- Listing match accuracy: second-hand listings are audited most and improve from about 65%
  to about 80% over the window; an audit corrected later counts as corrected.
- Reviews: a share of paid order lines, rated 1-5 by category, some texts with a phone
  number, an e-mail address or an ID-card number in them; some edited later.
- Merchant survey: the merchants active in a quarter, about a third answering in the three
  weeks after it; KA merchants are happier than SMBs; a second answer replaces the first.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from lanhai.simulator.model import Clean

DAY = 86_400
SHANGHAI_OFFSET = 8 * 3600
FEEDS_STREAM = 14  # the random stream of these feeds: np.random.default_rng([seed, 14])
CONVERSION_DAYS = 7

# id, name, start (share of the window), days running (None: still running at the end),
# planned treatment share, share of the eligible users exposed, planned exposed users per
# variant (share of the eligible), conversion of control and treatment, the treatment's share
# of the exposed users (the planned one, but in the experiment with a sample-ratio mismatch),
# who is eligible.
EXPERIMENTS = (
    ("EXP-ECO-PACK", "環保包裝選項 eco-packaging option at checkout", 0.30, 28, 0.5, 0.25, 0.08,
     0.15, 0.18, 0.5, "all"),
    ("EXP-REC-FEED", "首頁推薦流改版 new home recommendation feed", 0.42, 21, 0.5, 0.25, 0.08,
     0.14, 0.14, 0.5, "all"),
    ("EXP-LIVE-BADGE", "直播間信任標識 trust badge in live streams", 0.55, 28, 0.5, 0.25, 0.08,
     0.12, 0.145, 0.5, "all"),
    ("EXP-SILVER-UI", "長輩模式大字版 large-type mode for 60+", 0.62, 35, 0.5, 0.6, 0.2,
     0.10, 0.14, 0.5, "silver"),
    ("EXP-FREE-SHIP", "滿額包郵門檻 free-shipping threshold", 0.75, 21, 0.5, 0.25, 0.08,
     0.16, 0.16, 0.56, "all"),
    ("EXP-COUPON-NEW", "新人券面額 new-customer coupon value", None, None, 0.5, 0.25, 0.4,
     0.13, 0.15, 0.5, "all"),
)
LAST_EXPERIMENT_DAYS = 10  # the one still running started this many days before the end
MAX_EXPOSED = 40_000       # per experiment, whatever the scale
NEVER_EXPOSED = 0.2        # assigned users who never saw their variant

DEFECT_TYPES = ("condition_overstated", "missing_parts", "wrong_specs", "photos_not_of_item",
                "counterfeit_suspected")
REVIEW_SHARE = 0.12        # of paid order lines
RATING_P = np.array([0.04, 0.05, 0.11, 0.30, 0.50])
SURVEY_RESPONSE = 0.35
GOOD = ("質量很好，和描述一致，物流也快。", "很滿意，會回購。", "包裝用心，推薦！",
        "性價比高，家人很喜歡。", "做工不錯，值這個價。")
FAIR = ("還可以，和圖片有點差別。", "一般般，物流有點慢。", "東西不錯但包裝簡陋。")
POOR = ("和描述不符，很失望。", "質量太差，申請退貨中。", "客服態度差，不推薦。",
        "成色和描述差很多。")
CONTACT = ("有問題可以打我電話{phone}", "賣家請聯繫 {email}", "發票寄給我，身份證號{id_card}")


def _local_day(world: Clean, ts: np.ndarray) -> np.ndarray:
    t0 = world.t0()
    return (ts + SHANGHAI_OFFSET) // DAY - (t0 + SHANGHAI_OFFSET) // DAY


def _uniform_ts(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A second in [lo, hi) for each row (hi > lo)."""
    lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
    return lo + (rng.random(len(lo)) * (hi - lo)).astype(np.int64)


def _paid(world: Clean) -> tuple[np.ndarray, np.ndarray]:
    """(user, paid_at) of every paid order, sorted by user then time."""
    o = world.orders
    paid = o["paid"].to_numpy()
    user = o["user"].to_numpy()[paid].astype(np.int64)
    at = o["paid_at"].to_numpy()[paid].astype(np.int64)
    order = np.lexsort((at, user))
    return user[order], at[order]


def converted(world: Clean, users: np.ndarray, first_exposed: np.ndarray) -> np.ndarray:
    """Whether each user has a paid order in [first_exposed, first_exposed + 7 days)."""
    p_user, p_at = _paid(world)
    key = p_user * 2**32 + (p_at - world.t0() + 2**31)
    lo = users.astype(np.int64) * 2**32 + (first_exposed - world.t0() + 2**31)
    hi = lo + CONVERSION_DAYS * DAY
    return np.searchsorted(key, hi, side="left") > np.searchsorted(key, lo, side="left")


def _experiments(rng: np.random.Generator, world: Clean) -> dict[str, pd.DataFrame]:
    t0, days = world.t0(), world.days
    reg_day, birth = world.extra["reg_day"], world.extra["birth_year"]
    n_users = len(world.extra["user_ids"])
    p_user, p_at = _paid(world)
    registry, assigned, exposed = [], [], []
    taken = np.zeros(n_users, dtype=bool)  # per experiment: already sampled
    for (exp_id, name, start_share, run_days, planned, exposed_share, planned_share, conv_c,
         conv_t, actual, eligible) in EXPERIMENTS:
        if start_share is None:
            start, end = days - LAST_EXPERIMENT_DAYS, days
            ended = False
        else:
            start = int(start_share * days)
            end = min(start + run_days, days - CONVERSION_DAYS)
            ended = True
        if end - start < 3:
            continue
        s_ts, e_ts = t0 + start * DAY + 10 * 3600, t0 + end * DAY
        year = (world.start + timedelta(days=start)).year
        ok = reg_day < start
        if eligible == "silver":
            ok &= year - birth >= 60
        pool = np.flatnonzero(ok)
        # buyers: a paid order in [start, end + 7 days) (a time to have been exposed before it
        # exists); the others bought nothing then and cannot convert
        in_window = (p_at >= s_ts) & (p_at < e_ts + CONVERSION_DAYS * DAY - 1)
        buyer = np.zeros(n_users, dtype=bool)
        buyer[p_user[in_window]] = True
        n_exposed = min(int(len(pool) * exposed_share), MAX_EXPOSED)
        planned_n = max(int(n_exposed * planned_share / exposed_share), 1)
        n_t = int(round(n_exposed * actual))
        taken[:] = False
        users, variants, first = [], [], []
        for variant, n, conv in (("control", n_exposed - n_t, conv_c),
                                 ("treatment", n_t, conv_t)):
            n_conv = rng.binomial(n, conv)
            for want_buyer, k in ((True, n_conv), (False, n - n_conv)):
                cand = pool[(buyer[pool] == want_buyer) & ~taken[pool]]
                pick = rng.choice(cand, size=min(k, len(cand)), replace=False)
                taken[pick] = True
                if want_buyer:  # first exposure within the 7 days before one of their orders
                    lo_i = np.searchsorted(p_user, pick, side="left")
                    hi_i = np.searchsorted(p_user, pick, side="right")
                    times = []
                    for a, b in zip(lo_i, hi_i, strict=True):
                        t = p_at[a:b]
                        t = t[(t >= s_ts) & (t < e_ts + CONVERSION_DAYS * DAY - 1)]
                        times.append(t[rng.integers(len(t))])
                    tp = np.asarray(times, dtype=np.int64)
                    te = _uniform_ts(rng, np.maximum(s_ts, tp - CONVERSION_DAYS * DAY + 1),
                                     np.minimum(e_ts, tp + 1))
                else:
                    te = _uniform_ts(rng, np.full(len(pick), s_ts), np.full(len(pick), e_ts))
                users.append(pick)
                variants += [variant] * len(pick)
                first.append(te)
        users_a = np.concatenate(users) if users else np.zeros(0, np.int64)
        first_a = np.concatenate(first) if first else np.zeros(0, np.int64)
        variants_a = np.asarray(variants, dtype=object)
        # assigned a little before the first exposure
        assigned_at = first_a - (rng.random(len(first_a))
                                 * np.minimum(2 * DAY, first_a - s_ts)).astype(np.int64)
        # assigned, never exposed: in the planned split
        rest = pool[~taken[pool]]
        n_never = min(int(len(users_a) * NEVER_EXPOSED), len(rest))
        never = rng.choice(rest, size=n_never, replace=False)
        never_variant = np.where(rng.random(n_never) < planned, "treatment", "control")
        never_at = _uniform_ts(rng, np.full(n_never, s_ts), np.full(n_never, e_ts))
        assigned.append(pd.DataFrame({
            "experiment_id": exp_id,
            "_user": np.concatenate([users_a, never]).astype(np.int64),
            "variant": np.concatenate([variants_a, never_variant.astype(object)]),
            "assigned_at": np.concatenate([assigned_at, never_at])}))
        # the first exposure, then 0-4 more while the experiment runs
        more = rng.poisson(1.2, len(users_a)).clip(0, 4)
        rep = np.repeat(np.arange(len(users_a)), more)
        again = _uniform_ts(rng, first_a[rep] + 1, np.maximum(first_a[rep] + 2, e_ts))
        exposed.append(pd.DataFrame({
            "experiment_id": exp_id,
            "_user": np.concatenate([users_a, users_a[rep]]).astype(np.int64),
            "exposed_at": np.concatenate([first_a, again])}))
        created = s_ts - DAY
        registry.append({"experiment_id": exp_id, "name": name,
                         "planned_permille": int(round(planned * 1000)),
                         "planned_users_per_variant": planned_n,
                         "started_at": s_ts, "ended_at": -1, "updated_at": created})
        if ended:
            registry.append({**registry[-1], "ended_at": e_ts, "updated_at": e_ts + 3600})
    # (a window too short for any experiment: empty feeds, with their columns)
    experiments = pd.DataFrame(registry, columns=[
        "experiment_id", "name", "planned_permille", "planned_users_per_variant", "started_at",
        "ended_at", "updated_at"])
    assignments = pd.concat([pd.DataFrame(columns=["experiment_id", "_user", "variant",
                                                   "assigned_at"]), *assigned],
                            ignore_index=True)
    exposures = pd.concat([pd.DataFrame(columns=["experiment_id", "_user", "exposed_at"]),
                           *exposed], ignore_index=True)
    for df, cols in ((experiments, ["planned_permille", "planned_users_per_variant",
                                    "started_at", "ended_at", "updated_at"]),
                     (assignments, ["_user", "assigned_at"]), (exposures, ["_user",
                                                                           "exposed_at"])):
        df[cols] = df[cols].astype(np.int64)
    assignments = assignments.sort_values(["assigned_at", "experiment_id", "_user"],
                                          ignore_index=True)
    exposures = exposures.sort_values(["exposed_at", "experiment_id", "_user"],
                                      ignore_index=True)
    experiments["_day"] = _local_day(world, experiments["updated_at"].to_numpy())
    assignments["_day"] = _local_day(world, assignments["assigned_at"].to_numpy())
    exposures["_day"] = _local_day(world, exposures["exposed_at"].to_numpy())
    return {"experiments": experiments, "assignments": assignments, "exposures": exposures}


def _merchant_of(world: Clean, sku: np.ndarray) -> np.ndarray:
    """The merchant (its index in the world) of each SKU index, vectorised."""
    ids = world.extra["sku_frame"]["merchant_id"].to_numpy()[sku]
    return pd.Index(world.extra["m_ids"]).get_indexer(ids).astype(np.int64)


def _size_at(world: Clean, merchant: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """KA or SMB as the merchants feed says at `ts` (an SMB grows into KA at 10:00 that day)."""
    base, grow_day = world.extra["m_size"], world.extra["grow_day"]
    grown_at = world.t0() + grow_day[merchant].astype(np.int64) * DAY + 10 * 3600
    ka = (base[merchant] == "KA") | ((grow_day[merchant] >= 0) & (ts >= grown_at))
    return np.where(ka, "KA", "SMB")


def _listing_audits(rng: np.random.Generator, world: Clean) -> pd.DataFrame:
    t0, days = world.t0(), world.days
    skus = world.extra["sku_frame"]
    second = (skus["pilot_category"] == "second_hand").to_numpy()
    rate = np.where(second, 1 / 30, 1 / 400) * days  # audits per SKU over the window
    n = rng.poisson(rate)
    sku = np.repeat(np.arange(len(skus)), n)
    day = rng.integers(0, days, len(sku))
    audited_at = t0 + day * DAY + rng.integers(9 * 3600, 18 * 3600, len(sku))
    merchant = _merchant_of(world, sku)
    ka = _size_at(world, merchant, audited_at) == "KA"
    p = np.where(second[sku], 0.65 + 0.15 * day / max(days - 1, 1), 0.93) + np.where(ka, 0.03,
                                                                                      0.0)
    match = rng.random(len(sku)) < p
    kind = np.where(second[sku], rng.choice(4, len(sku), p=[0.5, 0.2, 0.05, 0.25]),
                    rng.choice([2, 3, 4], len(sku), p=[0.6, 0.3, 0.1]))
    defect = np.where(match, None, np.asarray(DEFECT_TYPES, dtype=object)[kind])
    audits = pd.DataFrame({"audit_id": [f"A{i + 1:09d}" for i in range(len(sku))],
                           "_sku": sku, "audited_at": audited_at,
                           "matches_description": match, "defect_type": defect,
                           "updated_at": audited_at})
    # corrected on appeal 1-3 days later: the verdict flips
    fix = np.flatnonzero((rng.random(len(audits)) < 0.03) & (day < days - 4))
    corrected = audits.iloc[fix].copy()
    corrected["matches_description"] = ~corrected["matches_description"]
    corrected["defect_type"] = np.where(corrected["matches_description"], None,
                                        np.asarray(DEFECT_TYPES, dtype=object)[
                                            rng.integers(0, 4, len(fix))])
    corrected["updated_at"] = corrected["audited_at"] + rng.integers(1, 4, len(fix)) * DAY
    audits = pd.concat([audits, corrected], ignore_index=True).sort_values(
        ["updated_at", "audit_id"], ignore_index=True)
    audits["_day"] = _local_day(world, audits["updated_at"].to_numpy())
    return audits


def _reviews(rng: np.random.Generator, world: Clean) -> pd.DataFrame:
    t0, days = world.t0(), world.days
    o, items = world.orders, world.items
    end = t0 + days * DAY
    paid_at = o["paid_at"].to_numpy()
    line_o = items["o"].to_numpy().astype(np.int64)
    ok = o["paid"].to_numpy()[line_o] & (o["cancelled_at"].to_numpy()[line_o] < 0)
    lines = np.flatnonzero(ok & (rng.random(len(line_o)) < REVIEW_SHARE))
    created = paid_at[line_o[lines]] + rng.integers(2 * DAY, 20 * DAY, len(lines))
    keep = created < end
    lines, created = lines[keep], created[keep]
    sku = items["sku"].to_numpy()[lines].astype(np.int64)
    frame = world.extra["sku_frame"]
    second = (frame["pilot_category"] == "second_hand").to_numpy()[sku]
    cat = frame["category_l1"].to_numpy()[sku]
    shift = np.where(second, 0.6, 0.0) + np.where(cat == "fresh", 0.3, 0.0)
    u = rng.random(len(lines)) * (1 - 0.3 * shift)  # second-hand and fresh rate lower
    rating = 1 + np.searchsorted(np.cumsum(RATING_P), u, side="right")
    # the text: by rating, some with contact details in it
    text = np.where(rating >= 4, rng.choice(np.array(GOOD, dtype=object), len(lines)),
                    np.where(rating == 3, rng.choice(np.array(FAIR, dtype=object), len(lines)),
                             rng.choice(np.array(POOR, dtype=object), len(lines))))
    contact = rng.choice(4, len(lines), p=[0.94, 0.03, 0.02, 0.01])  # none, phone, email, id
    texts, planted = [], []
    for i in range(len(lines)):
        t, value = text[i], None
        if contact[i]:
            kind = ("phone", "email", "id_card")[contact[i] - 1]
            value = {"phone": f"1{rng.integers(3, 10)}{rng.integers(0, 10**9):09d}",
                     "email": f"buyer{rng.integers(10**6)}@example.com",
                     "id_card": f"{rng.integers(110000, 660000)}19{rng.integers(50, 100)}0"
                                f"{rng.integers(1, 10)}1{rng.integers(0, 10)}"
                                f"{rng.integers(100, 1000)}X"}[kind]
            t = t + CONTACT[contact[i] - 1].format(**{kind: value})
        texts.append(t)
        planted.append(value)
    texts_a = np.asarray(texts, dtype=object)
    texts_a[(rng.random(len(lines)) < 0.05) & (contact == 0)] = None  # stars only
    reviews = pd.DataFrame({"review_id": [f"R{i + 1:09d}" for i in range(len(lines))],
                            "_o": line_o[lines], "_sku": sku, "rating": rating,
                            "review_text": texts_a, "created_at": created,
                            "updated_at": created,
                            "_planted_pii": np.asarray(planted, dtype=object)})
    edit = np.flatnonzero((rng.random(len(reviews)) < 0.05) & (created < end - 3 * DAY))
    edited = reviews.iloc[edit].copy()
    edited["rating"] = np.clip(edited["rating"] + rng.choice([-1, 1], len(edit)), 1, 5)
    edited["updated_at"] = edited["created_at"] + rng.integers(DAY, 3 * DAY, len(edit))
    reviews = pd.concat([reviews, edited], ignore_index=True).sort_values(
        ["updated_at", "review_id"], ignore_index=True)
    reviews["_day"] = _local_day(world, reviews["updated_at"].to_numpy())
    return reviews


def quarter_of(d: date) -> str:
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


def _quarters(world: Clean) -> list[tuple[str, int, int]]:
    """(label, first day, last day) of each calendar quarter wholly in the window whose survey
    (the 21 days after it) also is."""
    out, d = [], date(world.start.year, 3 * ((world.start.month - 1) // 3) + 1, 1)
    while True:
        nxt = date(d.year + (d.month + 2) // 12, (d.month + 2) % 12 + 1, 1)
        first, last = (d - world.start).days, (nxt - world.start).days - 1
        if last + 21 >= world.days:
            return out
        if first >= 0:
            out.append((quarter_of(d), first, last))
        d = nxt


def _survey(rng: np.random.Generator, world: Clean) -> pd.DataFrame:
    t0 = world.t0()
    onboard, close = world.extra["m_onboard"], world.extra["m_close"]
    rows = []
    for label, first, last in _quarters(world):
        active = np.flatnonzero((onboard <= last) & (close > first))
        answer = active[rng.random(len(active)) < SURVEY_RESPONSE]
        at = t0 + (last + 1 + rng.integers(0, 21, len(answer))) * DAY + rng.integers(
            8 * 3600, 22 * 3600, len(answer))
        ka = _size_at(world, answer, at) == "KA"
        mean = np.where(ka, 8.1, 6.9)
        score = np.clip(np.rint(rng.normal(mean, 1.8)), 0, 10).astype(np.int64)
        rows.append(pd.DataFrame({"_m": answer, "quarter": label, "score": score,
                                  "submitted_at": at}))
        # a second answer a few days later replaces the first
        again = rng.random(len(answer)) < 0.05
        later = at[again] + rng.integers(DAY, 4 * DAY, int(again.sum()))
        later = np.minimum(later, t0 + world.days * DAY - 1)
        rows.append(pd.DataFrame({"_m": answer[again], "quarter": label,
                                  "score": np.clip(score[again] + rng.integers(-2, 3,
                                                                               len(later)),
                                                   0, 10),
                                  "submitted_at": later}))
    empty = pd.DataFrame({"_m": np.zeros(0, np.int64), "quarter": np.zeros(0, object),
                          "score": np.zeros(0, np.int64), "submitted_at": np.zeros(0, np.int64)})
    survey = pd.concat([empty, *rows], ignore_index=True).sort_values(["submitted_at", "_m"],
                                                                      ignore_index=True)
    survey["_day"] = _local_day(world, survey["submitted_at"].to_numpy())
    return survey[survey["_day"] < world.days].reset_index(drop=True)


def plan_feeds(world: Clean) -> dict[str, pd.DataFrame]:
    """The clean records of the rest of the plan's feeds, by entity."""
    rng = np.random.default_rng([world.seed, FEEDS_STREAM])
    out = _experiments(rng, world)
    out["listing_audits"] = _listing_audits(rng, world)
    out["reviews"] = _reviews(rng, world)
    out["merchant_survey"] = _survey(rng, world)
    return out


def _week_label(world: Clean, day: np.ndarray) -> np.ndarray:
    dates = pd.to_datetime(world.start) + pd.to_timedelta(day, unit="D")
    iso = dates.isocalendar()
    return (iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)).to_numpy()


def _pilot_at(world: Clean, sku: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """The pilot category the SKUs feed says at `ts` ("" for none): a SKU whose pilot category
    changes does so at 08:00 of its change day, when that day is after its listing day."""
    frame = world.extra["sku_frame"]
    merchant = _merchant_of(world, sku)
    listed = np.maximum(world.extra["m_onboard"][merchant], 0)
    change = frame["change_day"].to_numpy()[sku]
    changes = (change < world.days) & (change > listed)
    changed = changes & (ts >= world.t0() + change.astype(np.int64) * DAY + 8 * 3600)
    before = frame["pilot_category"].to_numpy()[sku]
    after = frame["new_pilot"].to_numpy()[sku]
    return pd.Series(np.where(changed, after, before)).fillna("").to_numpy()


def _latest(df: pd.DataFrame, key: list[str], version: str) -> pd.DataFrame:
    return df.sort_values(version).drop_duplicates(key, keep="last")


def truths(world: Clean) -> dict:
    """What the marts must find, from the clean records by PLAN.md's definitions."""
    t = world.tables
    # A/B: each exposed user's first exposure, and a paid order within 7 days of it
    first = (t["exposures"].groupby(["experiment_id", "_user"], as_index=False)["exposed_at"]
             .min())
    variant = t["assignments"][["experiment_id", "_user", "variant"]]
    first = first.merge(variant, on=["experiment_id", "_user"], how="inner")
    first["converted"] = converted(world, first["_user"].to_numpy(),
                                   first["exposed_at"].to_numpy())
    ab = (first.groupby(["experiment_id", "variant"], as_index=False)
          .agg(exposed_users=("_user", "size"), converted_users=("converted", "sum")))
    registry = _latest(t["experiments"], ["experiment_id"], "updated_at")
    ended = registry["ended_at"].to_numpy()
    registry = registry.assign(
        planned_treatment_share=registry["planned_permille"] / 1000,
        concluded_week=np.where(ended >= 0, _week_label(world, _local_day(
            world, np.where(ended >= 0, ended, 0) + 7 * DAY - 1)), None))
    # listing match accuracy: the latest verdict of each audit, by the week it was done
    audits = _latest(t["listing_audits"], ["audit_id"], "updated_at")
    frame = world.extra["sku_frame"]
    sku = audits["_sku"].to_numpy()
    merchant = _merchant_of(world, sku)
    a = pd.DataFrame({
        "iso_week_label": _week_label(world, _local_day(world, audits["audited_at"].to_numpy())),
        "all": "all", "category": frame["category_l1"].to_numpy()[sku],
        "merchant_size": _size_at(world, merchant, audits["audited_at"].to_numpy()),
        "pilot_category": _pilot_at(world, sku, audits["audited_at"].to_numpy()),
        "match": audits["matches_description"].to_numpy().astype(int)})
    listing = []
    for scope in ("all", "category", "merchant_size", "pilot_category"):
        g = (a[a[scope] != ""].groupby(["iso_week_label", scope], as_index=False)
             .agg(audits=("match", "size"), matching=("match", "sum"))
             .rename(columns={scope: "scope_value"}))
        g.insert(1, "scope_type", scope)
        listing.append(g)
    # reviews by the quarter they were posted in and the product's category
    reviews = _latest(t["reviews"], ["review_id"], "updated_at")
    days = _local_day(world, reviews["created_at"].to_numpy())
    r = pd.DataFrame({
        "quarter": [quarter_of(world.start + timedelta(days=int(d))) for d in days],
        "category": frame["category_l1"].to_numpy()[reviews["_sku"].to_numpy()],
        "rating": reviews["rating"].to_numpy()})
    ratings = (r.groupby(["quarter", "category"], as_index=False)
               .agg(reviews=("rating", "size"), rating_sum=("rating", "sum"),
                    poor=("rating", lambda x: int((x <= 2).sum()))))
    # merchant NPS: each merchant's last answer for a quarter, by its size when it answered
    survey = _latest(t["merchant_survey"], ["_m", "quarter"], "submitted_at")
    s = survey.assign(merchant_size=_size_at(world, survey["_m"].to_numpy(),
                                             survey["submitted_at"].to_numpy()))
    nps = []
    for scope in ("all", "merchant_size"):
        key = ["quarter"] + ([] if scope == "all" else ["merchant_size"])
        g = (s.groupby(key, as_index=False)
             .agg(responses=("score", "size"),
                  promoters=("score", lambda x: int((x >= 9).sum())),
                  detractors=("score", lambda x: int((x <= 6).sum()))))
        g["scope_type"] = scope
        g["scope_value"] = "all" if scope == "all" else g.pop("merchant_size")
        nps.append(g)
    planted = reviews["_planted_pii"].dropna()
    return {
        "experiments": registry[["experiment_id", "planned_treatment_share",
                                 "planned_users_per_variant", "concluded_week"]]
        .to_dict("records"),
        "ab_conversion": ab.to_dict("records"),
        "listing_accuracy": pd.concat(listing, ignore_index=True).to_dict("records"),
        "review_ratings": ratings.to_dict("records"),
        "merchant_nps": pd.concat(nps, ignore_index=True)[
            ["quarter", "scope_type", "scope_value", "responses", "promoters", "detractors"]]
        .to_dict("records"),
        "review_texts_with_pii": sorted(planted.tolist()),
    }
