"""Predictive customer value: BG/NBD (purchases, alive) and Gamma-Gamma (spend per purchase),
fitted with pymc-marketing (maximum a posteriori with flat priors = maximum likelihood).

A customer's history as of a day `as_of` is the classic RFM summary, in days:
- `frequency`: purchase days after the first (same-day purchases are one purchase);
- `recency`: days from the first purchase day to the last;
- `T`: days from the first purchase day to `as_of`;
- `monetary_value`: mean spend of the repeat purchase days (0 without one).

`summarise` builds it from transactions (the CDNOW test); the lake's weekly histories come
from dbt (`mart_customer_history_weekly`) and `score_week` turns one week of them into
predictions (jobs/customer_value.py runs it per week on Spark's executors).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

HORIZONS = (90, 365)
BG_PARAMS = ("r", "alpha", "a", "b")
GG_PARAMS = ("p", "q", "v")


@dataclass(frozen=True)
class Settings:
    """`customer_value:` in conf/: when a week has enough history to fit."""

    weeks: int = 26                  # the latest covered weeks the marts keep scores for
    min_history_days: int = 90       # the week's Sunday at least this far after the first data
    min_repeat_customers: int = 50   # Gamma-Gamma needs repeat customers to say anything

    @classmethod
    def of(cls, raw: dict | None) -> Settings:
        raw = raw or {}
        return cls(**{k: int(raw[k]) for k in ("weeks", "min_history_days",
                                                "min_repeat_customers") if k in raw})


@dataclass(frozen=True)
class Fit:
    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    v: float
    customers: int
    repeat_customers: int
    seconds: float


def summarise(transactions: pd.DataFrame, as_of, unit_days: float = 1.0) -> pd.DataFrame:
    """RFM summary per `customer_id` from transactions (`customer_id`, `date`, `value`) up to
    and including `as_of`; time in units of `unit_days` (7: weeks)."""
    as_of = pd.Timestamp(as_of)
    t = transactions[transactions["date"] <= as_of]
    daily = t.groupby(["customer_id", "date"], as_index=False)["value"].sum()
    g = daily.groupby("customer_id")
    first, last = g["date"].min(), g["date"].max()
    out = pd.DataFrame({
        "frequency": g["date"].count() - 1,
        "recency": (last - first).dt.days / unit_days,
        "T": (as_of - first).dt.days / unit_days,
    })
    repeat = daily.merge(first.rename("first"), left_on="customer_id", right_index=True)
    repeat = repeat[repeat["date"] > repeat["first"]]
    out["monetary_value"] = (repeat.groupby("customer_id")["value"].mean()
                             .reindex(out.index).fillna(0.0))
    return out.reset_index()


def _quiet():
    # pytensor compiles C once per machine (cached under ~/.pytensor); its and pymc's chatter
    # about it, and pymc-marketing's experimental-API warnings, are not the user's business
    os.environ.setdefault("PYTENSOR_FLAGS", "")
    for name in ("pymc", "pytensor", "pymc_marketing", "pymc_extras"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"(pymc|pytensor|pymc_marketing|pymc_extras|arviz)")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)


def fit(summary: pd.DataFrame) -> tuple[object, object, Fit]:
    """Fit BG/NBD on every customer and Gamma-Gamma on the repeat customers; flat priors, so
    the MAP estimate is the maximum-likelihood one (the published CDNOW parameters)."""
    _quiet()
    from pymc_extras.prior import Prior
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel

    began = time.perf_counter()
    data = summary[["customer_id", "frequency", "recency", "T"]]
    bg = BetaGeoModel(data=data, model_config={k: Prior("HalfFlat") for k in BG_PARAMS})
    bg.fit(method="map", progressbar=False)
    repeat = summary[summary["frequency"] > 0][["customer_id", "frequency", "monetary_value"]]
    gg = GammaGammaModel(data=repeat, model_config={k: Prior("HalfFlat") for k in GG_PARAMS})
    gg.fit(method="map", progressbar=False)
    values = {k: float(np.asarray(m.idata.posterior[k]).ravel()[0])
              for m, names in ((bg, BG_PARAMS), (gg, GG_PARAMS)) for k in names}
    bad = [k for k, v in values.items() if not np.isfinite(v) or v <= 0]
    if bad:
        raise ArithmeticError(f"the fit did not converge: {bad} = {[values[k] for k in bad]}")
    return bg, gg, Fit(**values, customers=len(summary), repeat_customers=len(repeat),
                       seconds=round(time.perf_counter() - began, 3))


def predict(bg, gg, summary: pd.DataFrame, horizons=HORIZONS) -> pd.DataFrame:
    """Per customer: P(alive), expected purchases and spend over each horizon (days)."""
    def flat(x):
        return np.asarray(x).reshape(-1)

    out = pd.DataFrame({"customer_id": summary["customer_id"].to_numpy()})
    out["p_alive"] = flat(bg.expected_probability_alive(data=summary))
    spend = flat(gg.expected_customer_spend(
        data=summary[["customer_id", "frequency", "monetary_value"]]))
    out["expected_spend_per_purchase_cny"] = spend
    for days in horizons:
        purchases = flat(bg.expected_purchases(data=summary, future_t=days))
        out[f"expected_purchases_{days}d"] = purchases
        out[f"expected_spend_{days}d_cny"] = purchases * spend
    return out


# The columns `score_week` returns: a row per customer, and the week's fit on every row (a
# week that was not fitted: one row, no customer, its status saying why).
SCORE_COLUMNS = {
    "iso_week_label": "string", "week_end_date": "date", "user_id": "string",
    "frequency": "int", "recency_days": "int", "age_days": "int",
    "avg_repeat_spend_cny": "double", "is_active": "boolean",
    "paid_days_next_90d": "int", "is_holdout_covered": "boolean",
    "p_alive": "double", "expected_spend_per_purchase_cny": "double",
    **{f"expected_purchases_{d}d": "double" for d in HORIZONS},
    **{f"expected_spend_{d}d_cny": "double" for d in HORIZONS},
    "fit_status": "string", **{k: "double" for k in BG_PARAMS + GG_PARAMS},
    "fit_customers": "int", "fit_repeat_customers": "int", "fit_seconds": "double",
}


def score_week(history: pd.DataFrame, settings: Settings = Settings()) -> pd.DataFrame:
    """One week of `mart_customer_history_weekly` (every customer acquired by its Sunday) ->
    SCORE_COLUMNS: the fit on all of them, predictions for each."""
    h = history.reset_index(drop=True)
    week = h["iso_week_label"].iloc[0]
    end = pd.Timestamp(h["week_end_date"].iloc[0])
    first_data = pd.Timestamp(h["first_data_date"].iloc[0])
    first, last = pd.to_datetime(h["first_paid_date"]), pd.to_datetime(h["last_paid_date"])
    summary = pd.DataFrame({
        "customer_id": h["user_id"],
        "frequency": h["paid_days"].astype("int64") - 1,
        "recency": (last - first).dt.days.astype("float64"),
        "T": (end - first).dt.days.astype("float64"),
    })
    repeat = summary["frequency"] > 0
    summary["monetary_value"] = np.where(
        repeat, h["repeat_spend_cny"].astype("float64") / summary["frequency"].clip(lower=1), 0.0)
    rows = pd.DataFrame({
        "iso_week_label": week, "week_end_date": h["week_end_date"], "user_id": h["user_id"],
        "frequency": summary["frequency"], "recency_days": summary["recency"].astype("int64"),
        "age_days": summary["T"].astype("int64"),
        "avg_repeat_spend_cny": np.where(repeat, summary["monetary_value"], np.nan),
        "is_active": h["is_active"].astype(bool),
        "paid_days_next_90d": h["paid_days_next_90d"],
        "is_holdout_covered": h["is_holdout_covered"].astype(bool),
    })
    status = "fitted"
    if (end - first_data).days + 1 < settings.min_history_days:
        status = f"not enough data: fewer than {settings.min_history_days} days of history"
    elif int(repeat.sum()) < settings.min_repeat_customers:
        status = (f"not enough data: {int(repeat.sum())} repeat customers, fewer than "
                  f"{settings.min_repeat_customers}")
    fitted = None
    if status == "fitted":
        try:
            bg, gg, fitted = fit(summary)
        except (ArithmeticError, ValueError, RuntimeError) as err:  # a week, not the job
            status = f"did not converge: {str(err)[:200]}"
    if fitted is None:
        one = pd.DataFrame([{"iso_week_label": week, "week_end_date": h["week_end_date"].iloc[0],
                             "fit_status": status, "fit_customers": len(h),
                             "fit_repeat_customers": int(repeat.sum())}])
        one = one.reindex(columns=list(SCORE_COLUMNS))
        return one.astype(object).where(one.notna(), None)  # typed nulls, not NaN
    scores = predict(bg, gg, summary).drop(columns="customer_id")
    out = pd.concat([rows, scores], axis=1)
    out["fit_status"] = status
    for k, v in asdict(fitted).items():
        out[f"fit_{k}" if k in ("customers", "repeat_customers", "seconds") else k] = v
    return out[list(SCORE_COLUMNS)]
