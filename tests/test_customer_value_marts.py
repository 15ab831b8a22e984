"""The customer-value marts on the small lake, against an independent computation: the
customers' histories from fct_orders in DuckDB, a scipy maximum-likelihood fit, the papers'
closed-form predictions (tests/clv_reference.py)."""

from __future__ import annotations

import clv_reference as ref
import duckdb
import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable

pytestmark = pytest.mark.integration


def _table(config, name: str) -> pd.DataFrame:
    path = config.lake / f"{config.db('marts')}.db" / name
    return DeltaTable(str(path)).to_pandas()


@pytest.fixture(scope="module")
def scored(built, spark, config):
    """The weeks `built` scored after its full refresh (every kept week: the refresh rebuilt
    the histories), a run that finds nothing new to score, then the marts."""
    from lanhai.jobs.customer_value import run

    again = run(spark, config)
    return {"result": built["customer_value"], "again": again,
            **{t: _table(config, t) for t in ("clv_customers_weekly", "clv_weekly",
                                                "clv_fits_weekly",
                                                "mart_customer_history_weekly")}}


@pytest.fixture(scope="module")
def independent(config):
    """Each customer's paid days and spend from fct_orders, in DuckDB."""
    orders = DeltaTable(str(config.lake / f"{config.db('marts')}.db" / "fct_orders"))
    con = duckdb.connect()
    con.register("orders", orders.to_pyarrow_dataset())
    return con.sql("""
        select user_id, paid_date, cast(sum(order_gmv_cny) as double) as spend
        from orders where is_paid group by user_id, paid_date
    """).df()


def _summary(days: pd.DataFrame, end) -> pd.DataFrame:
    end = pd.Timestamp(end)
    d = days[pd.to_datetime(days["paid_date"]) <= end].copy()
    d["paid_date"] = pd.to_datetime(d["paid_date"])
    first = d.groupby("user_id")["paid_date"].transform("min")
    g = d.groupby("user_id")
    out = pd.DataFrame({"x": g.size() - 1,
                        "tx": (g["paid_date"].max() - g["paid_date"].min()).dt.days,
                        "T": (end - g["paid_date"].min()).dt.days,
                        "last": g["paid_date"].max()})
    out["m"] = (d[d["paid_date"] > first].groupby("user_id")["spend"].mean()
                .reindex(out.index).fillna(0.0))
    later = days[(pd.to_datetime(days["paid_date"]) > end)
                 & (pd.to_datetime(days["paid_date"]) <= end + pd.Timedelta(days=90))]
    out["next_90d"] = later.groupby("user_id").size().reindex(out.index).fillna(0).astype(int)
    return out


def _last_fitted_week(scored, covered: bool = False) -> pd.Series:
    fits = scored["clv_fits_weekly"]
    fits = fits[fits["fit_status"] == "fitted"]
    if covered:
        fits = fits[fits["purchases_next_90d"].notna()]
    return fits.sort_values("iso_week_label").iloc[-1]


def test_the_latest_covered_weeks_are_scored_once_and_a_rerun_scores_none(scored, config):
    from lanhai.clv import Settings

    kept = Settings.of(config.raw.get("customer_value")).weeks
    weeks = sorted(set(scored["mart_customer_history_weekly"]["iso_week_label"]))
    fits = scored["clv_fits_weekly"]
    assert sorted(fits["iso_week_label"]) == weeks[-kept:]
    assert set(scored["clv_customers_weekly"]["iso_week_label"]) == set(weeks[-kept:])
    assert scored["result"]["weeks"] == kept
    assert scored["again"]["weeks"] == 0
    # 540 days of data: every kept week has the history and the repeat customers to be fitted
    assert (fits["fit_status"] == "fitted").all(), fits["fit_status"].unique()


def test_the_histories_equal_an_independent_computation(scored, independent):
    week = _last_fitted_week(scored, covered=True)
    h = scored["mart_customer_history_weekly"]
    h = h[h["iso_week_label"] == week["iso_week_label"]].set_index("user_id")
    s = _summary(independent, week["week_end_date"])
    assert set(h.index) == set(s.index)
    s = s.loc[h.index]
    assert (h["paid_days"] - 1 == s["x"]).all()
    assert ((pd.to_datetime(h["last_paid_date"]) - pd.to_datetime(h["first_paid_date"]))
            .dt.days == s["tx"]).all()
    np.testing.assert_allclose(h["repeat_spend_cny"].astype(float),
                               (s["m"] * s["x"]).astype(float), rtol=1e-9, atol=1e-6)
    assert (h["paid_days_next_90d"] == s["next_90d"]).all()
    assert h["is_holdout_covered"].all()
    assert (h["is_active"] == (s["last"] >= pd.Timestamp(week["week_end_date"])
                               - pd.Timedelta(days=364))).all()


def test_the_fit_equals_an_independent_maximum_likelihood_fit(scored, independent):
    week = _last_fitted_week(scored)
    s = _summary(independent, week["week_end_date"])
    bg = ref.fit_bgnbd(s["x"], s["tx"], s["T"])
    rep = s[s["x"] > 0]
    gg = ref.fit_gamma_gamma(rep["x"], rep["m"])
    for name, value in {**bg, **gg}.items():
        assert week[name] == pytest.approx(value, rel=2e-3), name
    assert week["customers"] == len(s) and week["repeat_customers"] == len(rep)


def test_predictions_equal_the_closed_forms_for_every_active_customer(scored, independent):
    week = _last_fitted_week(scored, covered=True)
    f = {k: week[k] for k in ref.PUBLISHED}
    c = scored["clv_customers_weekly"]
    c = c[c["iso_week_label"] == week["iso_week_label"]].set_index("user_id")
    s = _summary(independent, week["week_end_date"])
    active = s[s["last"] >= pd.Timestamp(week["week_end_date"]) - pd.Timedelta(days=364)]
    assert set(c.index) == set(active.index)
    s = active.loc[c.index]
    np.testing.assert_allclose(c["p_alive"], ref.p_alive(f, s["x"], s["tx"], s["T"]),
                               rtol=1e-6)
    for t in (90, 365):
        np.testing.assert_allclose(c[f"expected_purchases_{t}d"],
                                   ref.expected_purchases(f, t, s["x"], s["tx"], s["T"]),
                                   rtol=1e-6)
    spend = ref.expected_spend(f, s["x"], s["m"])
    np.testing.assert_allclose(c["expected_spend_365d_cny"],
                               c["expected_purchases_365d"] * spend, rtol=1e-6)
    assert (c["purchases_next_90d"] == s["next_90d"]).all()


def test_the_holdout_is_reported_where_the_data_covers_it(scored):
    fits = scored["clv_fits_weekly"]
    fitted = fits[fits["fit_status"] == "fitted"].sort_values("iso_week_label")
    covered = fitted[fitted["purchases_next_90d"].notna()]
    # the last 13 weeks' 90 days are not all in the data yet
    assert len(covered) >= 10 and len(fitted) - len(covered) == 13
    # the model predicts the next 90 days' purchases of the whole customer base closely
    errors = covered["holdout_error"]
    np.testing.assert_allclose(errors, covered["expected_purchases_90d"]
                               / covered["purchases_next_90d"] - 1, rtol=1e-9)
    assert errors.abs().median() < 0.25, errors.describe()


def test_the_scopes_sum_the_active_customers(scored):
    c, w = scored["clv_customers_weekly"], scored["clv_weekly"]
    week = _last_fitted_week(scored, covered=True)["iso_week_label"]
    c, w = c[c["iso_week_label"] == week], w[w["iso_week_label"] == week]
    everyone = w[w["scope_type"] == "all"].iloc[0]
    assert everyone["active_customers"] == len(c)
    assert everyone["expected_spend_365d_cny"] == pytest.approx(c["expected_spend_365d_cny"].sum())
    assert everyone["purchases_next_90d"] == c["purchases_next_90d"].sum()
    tiers = w[w["scope_type"] == "city_tier"]
    assert tiers["active_customers"].sum() == c["city_tier"].notna().sum()
    assert tiers["expected_purchases_90d"].sum() == pytest.approx(
        c.loc[c["city_tier"].notna(), "expected_purchases_90d"].sum())
    silver = w[(w["scope_type"] == "segment") & (w["scope_value"] == "silver_60_plus")]
    assert silver["active_customers"].item() == c["is_60_plus"].sum()


def test_a_week_never_scored_is_scored_alone_and_equal(scored, spark, config):
    """The job scores what changed: two weeks whose scores are gone are scored again, and
    only they, with the same results."""
    from lanhai.jobs.customer_value import FITS, run

    weeks = sorted(scored["clv_fits_weekly"]["iso_week_label"])[-3:-1]
    listed = ", ".join(f"'{w}'" for w in weeks)
    spark.sql(f"delete from {config.db('marts')}.{FITS} where iso_week_label in ({listed})")
    result = run(spark, config)
    assert (result["weeks"], result["first"], result["last"]) == (2, weeks[0], weeks[1])
    cols = ["iso_week_label", "user_id", "p_alive", "expected_spend_365d_cny"]
    before = scored["clv_customers_weekly"]
    after = _table(config, "clv_customers_weekly")
    key = ["iso_week_label", "user_id"]
    before = before[before["iso_week_label"].isin(weeks)][cols].sort_values(key)
    after = after[after["iso_week_label"].isin(weeks)][cols].sort_values(key)
    pd.testing.assert_frame_equal(before.reset_index(drop=True), after.reset_index(drop=True),
                                  rtol=1e-9)
