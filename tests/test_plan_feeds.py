"""The rest of the plan's feeds in the simulator (issue 14): realistic, and their truths equal
an independent computation from the landed files by PLAN.md's definitions."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lanhai.simulator import simulate
from lanhai.simulator.landing import DEFAULT_DEFECTS
from lanhai.simulator.plan_feeds import EXPERIMENTS


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    """`small`, 540 days, no defects: every landed record is a clean one."""
    root = tmp_path_factory.mktemp("plan-feeds")
    result = simulate(root / "landing", root / "sim", start=date(2024, 1, 1), days=540,
                      scale="small", seed=7, defects={k: 0 for k in DEFAULT_DEFECTS})
    return {"landing": root / "landing", "truth": result.manifest["truth"]["plan"]}


def _read(landing, domain: str, entity: str) -> pd.DataFrame:
    files = sorted((landing / domain / entity).rglob("*.*"))
    if files[0].suffix == ".csv":
        return pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in files],
                         ignore_index=True)
    return pd.DataFrame([json.loads(line) for f in files
                         for line in f.read_text(encoding="utf-8").splitlines() if line])


def _ts(col: pd.Series) -> pd.Series:
    return col.map(lambda v: datetime.fromisoformat(v).timestamp() if v else np.nan)


def test_ab_conversion_is_a_paid_order_within_seven_days_of_the_first_exposure(landed):
    """PLAN.md's definition, from the landed files alone: exposures, assignments and the
    order events (an order's paid_at, as its latest event says)."""
    landing = landed["landing"]
    exposures = _read(landing, "growth", "exposures")
    exposures["t"] = _ts(exposures["exposed_at"])
    first = exposures.groupby(["experiment_id", "user_id"], as_index=False)["t"].min()
    variants = _read(landing, "growth", "assignments")[["experiment_id", "user_id", "variant"]]
    first = first.merge(variants, on=["experiment_id", "user_id"])
    orders = _read(landing, "transaction", "orders")
    orders = orders.sort_values("updated_at").drop_duplicates("order_id", keep="last")
    paid = orders[orders["paid_at"].notna() & (orders["paid_at"] != "")]
    paid = pd.DataFrame({"user_id": paid["user_id"], "p": _ts(paid["paid_at"])})
    pairs = first.merge(paid, on="user_id", how="left")
    pairs["hit"] = (pairs["p"] >= pairs["t"]) & (pairs["p"] < pairs["t"] + 7 * 86400)
    conv = (pairs.groupby(["experiment_id", "variant", "user_id"])["hit"].any()
            .groupby(["experiment_id", "variant"]).agg(["size", "sum"]).reset_index())
    want = {(r["experiment_id"], r["variant"]): (r["exposed_users"], r["converted_users"])
            for r in landed["truth"]["ab_conversion"]}
    got = {(r.experiment_id, r.variant): (int(r.size), int(r.sum)) for r in conv.itertuples()}
    assert got == want
    assert len(want) == 2 * len(EXPERIMENTS)


def _counts(truth) -> dict:
    return {(r["experiment_id"], r["variant"]): (r["exposed_users"], r["converted_users"])
            for r in truth["ab_conversion"]}


def test_one_experiment_has_a_sample_ratio_mismatch_and_the_others_none(landed):
    counts, plan = _counts(landed["truth"]), {e["experiment_id"]: e
                                              for e in landed["truth"]["experiments"]}
    flagged = set()
    for exp_id, e in plan.items():
        n_c, n_t = counts[(exp_id, "control")][0], counts[(exp_id, "treatment")][0]
        share = e["planned_treatment_share"]
        p = stats.chisquare([n_c, n_t], [(n_c + n_t) * (1 - share), (n_c + n_t) * share]).pvalue
        if p < 0.001:
            flagged.add(exp_id)
    assert flagged == {"EXP-FREE-SHIP"}


def test_some_experiments_lift_conversion_and_some_do_not(landed):
    """A two-proportion z-test on each concluded experiment: the planted lifts show at small
    (the large-type mode for 60+, the live-stream badge), the new feed's none does not, and the
    experiment still running has not reached its planned size."""
    counts, plan = _counts(landed["truth"]), {e["experiment_id"]: e
                                              for e in landed["truth"]["experiments"]}
    p_value = {}
    for exp_id in plan:
        (n_c, x_c), (n_t, x_t) = counts[(exp_id, "control")], counts[(exp_id, "treatment")]
        pooled = (x_c + x_t) / (n_c + n_t)
        z = (x_t / n_t - x_c / n_c) / np.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
        p_value[exp_id] = 2 * stats.norm.sf(abs(z))
    assert p_value["EXP-LIVE-BADGE"] < 0.05 and p_value["EXP-SILVER-UI"] < 0.05
    assert p_value["EXP-REC-FEED"] > 0.05
    running = plan["EXP-COUPON-NEW"]
    assert running["concluded_week"] is None
    assert counts[("EXP-COUPON-NEW", "treatment")][0] < running["planned_users_per_variant"]
    assert all(counts[(e, v)][0] >= plan[e]["planned_users_per_variant"]
               for e in plan if e != "EXP-COUPON-NEW" for v in ("control", "treatment"))


def test_the_eco_packaging_baseline_is_the_plans_fifteen_percent(landed):
    n, x = _counts(landed["truth"])[("EXP-ECO-PACK", "control")]
    assert 0.12 <= x / n <= 0.18


def test_only_users_of_sixty_and_over_are_in_the_large_type_experiment(landed):
    landing = landed["landing"]
    users = _read(landing, "user", "users").drop_duplicates("user_id", keep="last")
    born = dict(zip(users["user_id"], users["birth_year"].astype(int), strict=True))
    assigned = _read(landing, "growth", "assignments")
    silver = assigned[assigned["experiment_id"] == "EXP-SILVER-UI"]
    start = next(e for e in EXPERIMENTS if e[0] == "EXP-SILVER-UI")[2]
    year = (date(2024, 1, 1) + timedelta(days=int(start * 540))).year
    assert len(silver) > 500
    assert all(year - born[u] >= 60 for u in silver["user_id"])


def test_second_hand_listing_accuracy_climbs_from_the_plans_baseline(landed):
    rows = pd.DataFrame([r for r in landed["truth"]["listing_accuracy"]
                         if r["scope_value"] == "second_hand"])
    first, last = rows.head(13), rows.tail(14).head(13)  # a quarter at each end
    before = first["matching"].sum() / first["audits"].sum()
    after = last["matching"].sum() / last["audits"].sum()
    assert 0.60 <= before <= 0.72 and 0.70 <= after <= 0.86 and after - before >= 0.05
    audits = _read(landed["landing"], "product", "listing_audits")
    wrong = audits[audits["matches_description"] == "false"]
    assert wrong["defect_type"].notna().all() and (audits["audit_id"].duplicated().sum() > 0)


def test_review_texts_carry_personal_data_in_chinese_text(landed):
    reviews = _read(landed["landing"], "user", "reviews")
    planted = landed["truth"]["review_texts_with_pii"]
    assert len(planted) >= 100
    text = "\n".join(reviews["review_text"].dropna())
    assert all(v in text for v in planted)
    assert any("@" in v for v in planted) and any(len(v) == 18 for v in planted)
    assert reviews["rating"].astype(int).between(1, 5).all()


def test_merchants_of_every_size_answer_every_quarter_and_ka_are_happier(landed):
    nps = pd.DataFrame(landed["truth"]["merchant_nps"])
    by = nps[nps["scope_type"] == "merchant_size"].assign(
        nps=lambda d: (d["promoters"] - d["detractors"]) / d["responses"])
    assert set(by["quarter"]) == {"2024Q1", "2024Q2", "2024Q3", "2024Q4", "2025Q1"}
    ka = by[by["scope_value"] == "KA"].set_index("quarter")["nps"]
    smb = by[by["scope_value"] == "SMB"].set_index("quarter")["nps"]
    assert (ka > smb).all()


def _independent(n_c, x_c, n_t, x_t, share):
    """The readout's statistics by their textbook formulas, with the standard library only."""
    import math

    p_c, p_t = x_c / n_c, x_t / n_t
    pooled = (x_c + x_t) / (n_c + n_t)
    z = (p_t - p_c) / math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
    se = math.sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t)
    n = n_c + n_t
    chi2 = (n_c - n * (1 - share)) ** 2 / (n * (1 - share)) + (n_t - n * share) ** 2 / (n * share)
    return {"lift_abs": p_t - p_c, "lift_rel": (p_t - p_c) / p_c,
            "ci_low": p_t - p_c - 1.959963984540054 * se,
            "ci_high": p_t - p_c + 1.959963984540054 * se,
            "p_value": math.erfc(abs(z) / math.sqrt(2)),
            "srm_p_value": math.erfc(math.sqrt(chi2 / 2))}  # chi-square, 1 df


def test_the_ab_readout_equals_the_textbook_formulas_and_says_what_it_means(landed):
    """lanhai.experiments.readout (scipy) on the simulator's counts against the formulas
    computed independently; each experiment's verdict is the planted one."""
    from lanhai.experiments import readout

    truth = landed["truth"]
    plan = {e["experiment_id"]: e for e in truth["experiments"]}
    rows = [{**r, **plan[r["experiment_id"]],
             "ended_at": None if plan[r["experiment_id"]]["concluded_week"] is None else 1}
            for r in truth["ab_conversion"]]
    got = {r.experiment_id: r for r in readout(rows)}
    counts = _counts(truth)
    for exp_id, r in got.items():
        (n_c, x_c), (n_t, x_t) = counts[(exp_id, "control")], counts[(exp_id, "treatment")]
        want = _independent(n_c, x_c, n_t, x_t, plan[exp_id]["planned_treatment_share"])
        for k, v in want.items():
            assert getattr(r, k) == pytest.approx(v, rel=1e-9, abs=1e-12), (exp_id, k)
        assert r.ci_low < r.lift_abs < r.ci_high
    assert got["EXP-FREE-SHIP"].sample_ratio_mismatch
    assert got["EXP-FREE-SHIP"].verdict.startswith("sample ratio mismatch")
    assert got["EXP-COUPON-NEW"].verdict == "running: not enough data yet"
    assert got["EXP-LIVE-BADGE"].verdict == "treatment wins"
    assert got["EXP-REC-FEED"].verdict == "no significant difference"
    assert not any(got[e].sample_ratio_mismatch for e in got if e != "EXP-FREE-SHIP")


def test_a_readout_of_an_arm_nobody_saw_is_empty_not_an_error():
    from lanhai.experiments import readout

    [r] = readout([{"experiment_id": "E", "variant": "control", "exposed_users": 100,
                    "converted_users": 1, "planned_treatment_share": 0.5,
                    "planned_users_per_variant": 100, "ended_at": 1, "concluded_week": "W"}])
    assert r.treatment_users == 0 and r.lift_abs is None and r.p_value is None
    assert r.sample_ratio_mismatch and not r.enough_data
