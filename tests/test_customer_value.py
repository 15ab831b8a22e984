"""Predictive customer value (lanhai.clv): the library's fit finds the published CDNOW
parameters, agrees with an independent maximum-likelihood fit, and the predictions equal the
papers' closed forms. The marts on the small lake: tests/test_customer_value_marts.py."""

from __future__ import annotations

from pathlib import Path

import clv_reference as ref
import numpy as np
import pandas as pd
import pytest

from lanhai import clv
from lanhai.config import PROJECT_ROOT

CDNOW = PROJECT_ROOT / ".datasets" / "CDNOW_sample.txt"


def _transactions(path: Path = CDNOW) -> pd.DataFrame:
    # master id, sample id (1..2357), yyyymmdd, CDs bought, dollar value
    tx = pd.read_csv(path, sep=r"\s+", header=None,
                     names=["master_id", "customer_id", "date", "cds", "value"],
                     dtype={"master_id": str, "date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx


@pytest.fixture(scope="module")
def cdnow():
    if not CDNOW.exists():
        pytest.fail(f"{CDNOW} is missing: `make datasets` fetches it")
    # the papers' calibration period: the 39 weeks to 1997-09-30, time in weeks
    summary = clv.summarise(_transactions(), "1997-09-30", unit_days=7)
    bg, gg, fit = clv.fit(summary)
    return summary, bg, gg, fit


def test_the_cdnow_summary_is_the_papers(cdnow):
    summary, *_ = cdnow
    assert len(summary) == 2357
    assert int((summary["frequency"] > 0).sum()) == 946
    assert summary["T"].max() == pytest.approx(38.86, abs=0.01)


@pytest.mark.parametrize("name", sorted(ref.PUBLISHED))
def test_the_fit_finds_the_published_cdnow_parameters(cdnow, name):
    """BG/NBD r = 0.2426, alpha = 4.4136, a = 0.7929, b = 2.4259; Gamma-Gamma p = 6.2496,
    q = 3.7442, gamma = 15.4435 (Fader, Hardie & Lee 2005): within 1%."""
    *_, fit = cdnow
    assert getattr(fit, name) == pytest.approx(ref.PUBLISHED[name], rel=0.01)


def test_the_fit_equals_an_independent_maximum_likelihood_fit(cdnow):
    summary, _, _, fit = cdnow
    bg = ref.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    repeat = summary[summary["frequency"] > 0]
    gg = ref.fit_gamma_gamma(repeat["frequency"], repeat["monetary_value"])
    for name, value in {**bg, **gg}.items():
        assert getattr(fit, name) == pytest.approx(value, rel=1e-3), name


def test_predictions_equal_the_closed_forms(cdnow):
    summary, bg, gg, fit = cdnow
    f = {k: getattr(fit, k) for k in ref.PUBLISHED}
    out = clv.predict(bg, gg, summary, horizons=(13, 52))
    x, tx, T = summary["frequency"], summary["recency"], summary["T"]
    np.testing.assert_allclose(out["p_alive"], ref.p_alive(f, x, tx, T), rtol=1e-6)
    for t in (13, 52):
        np.testing.assert_allclose(out[f"expected_purchases_{t}d"],
                                   ref.expected_purchases(f, t, x, tx, T), rtol=1e-6)
    spend = ref.expected_spend(f, x, summary["monetary_value"])
    np.testing.assert_allclose(out["expected_spend_per_purchase_cny"], spend, rtol=1e-6)
    np.testing.assert_allclose(out["expected_spend_52d_cny"],
                               out["expected_purchases_52d"] * spend, rtol=1e-9)
    # the papers' customer 1 (x = 2, tx = 30.43, T = 38.86): alive with probability ~0.73
    assert out.loc[summary["customer_id"] == 1, "p_alive"].item() == pytest.approx(0.7266, abs=1e-3)


def _history(tx: pd.DataFrame, end: str, first_data: str) -> pd.DataFrame:
    """CDNOW as one week of mart_customer_history_weekly: each customer's purchase days to
    `end` (same-day purchases are one), the spend of the days after the first."""
    daily = (tx[tx["date"] <= pd.Timestamp(end)]
             .groupby(["customer_id", "date"], as_index=False)["value"].sum())
    g = daily.groupby("customer_id")
    first = g["date"].transform("min")
    h = pd.DataFrame({
        "first_paid_date": g["date"].min(), "last_paid_date": g["date"].max(),
        "paid_days": g["date"].count(),
        "repeat_spend_cny": daily[daily["date"] > first].groupby("customer_id")["value"].sum(),
    }).fillna({"repeat_spend_cny": 0.0}).reset_index()
    return h.assign(iso_week_label="1997-W40", week_end_date=pd.Timestamp(end).date(),
                    first_data_date=pd.Timestamp(first_data).date(),
                    user_id=h["customer_id"].astype(str), is_active=True,
                    paid_days_next_90d=0, is_holdout_covered=False)


def test_a_week_is_scored_in_days_with_its_fit_on_every_row(cdnow):
    out = clv.score_week(_history(_transactions(), "1997-09-30", "1997-01-01"))
    assert list(out.columns) == list(clv.SCORE_COLUMNS)
    assert (out["fit_status"] == "fitted").all() and len(out) == 2357
    # the same fit with time in days: alpha is 7 times the weeks', the others are the same
    for name, value in ref.PUBLISHED.items():
        expected = value * 7 if name == "alpha" else value
        assert out[name].iloc[0] == pytest.approx(expected, rel=0.01), name
    assert out["fit_repeat_customers"].iloc[0] == 946
    assert out["age_days"].max() == 272 and out["frequency"].max() > 0


def test_a_week_without_enough_history_or_repeat_customers_is_not_fitted():
    tx = _transactions()
    out = clv.score_week(_history(tx, "1997-09-30", "1997-08-01"))
    assert len(out) == 1 and out["user_id"].isna().all()
    assert out["fit_status"].item().startswith("not enough data: fewer than 90 days")
    few = _history(tx, "1997-09-30", "1997-01-01")
    out = clv.score_week(few, clv.Settings(min_repeat_customers=1000))
    assert "946 repeat customers, fewer than 1000" in out["fit_status"].item()
    assert out["r"].isna().all()
