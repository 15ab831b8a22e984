"""The dbt project: generated files up to date, staging builds on the small lake."""

from __future__ import annotations

import pytest

from lanhai.dbt import SOURCES_YML, profiles, sources_text


def test_sources_yml_is_generated_from_the_contracts():
    assert SOURCES_YML.read_text(encoding="utf-8") == sources_text(), (
        "run `lanhai dbt-sources`: _sources.yml is out of date with schemas/")


def test_kpi_seeds_are_generated_from_the_targets_file():
    from lanhai.dbt import seed_texts

    for path, text in seed_texts().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"run `lanhai dbt-sources`: {path.name} is out of date with conf/targets.yaml")


def test_targets_file_is_checked(tmp_path):
    from lanhai.dbt import load_targets

    bad = tmp_path / "targets.yaml"
    bad.write_text("kpis: {cac: {unit: cny, name_en: CAC, name_zh: CAC}}\n"
                   "targets: [{kpi: cac, scope_type: all, scope_value: all, direction: band,"
                   " low: 1}]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="band target needs low and high"):
        load_targets(bad)
    bad.write_text("kpis: {}\ntargets: [{kpi: cac, direction: lower, target: 50}]\n",
                   encoding="utf-8")
    with pytest.raises(ValueError, match="unknown kpi"):
        load_targets(bad)


def test_bronze_lineage_view_lists_every_contract():
    import re

    from lanhai.contracts import contracts
    from lanhai.dbt import DBT_DIR

    sql = (DBT_DIR / "models" / "staging" / "stg_bronze__records.sql").read_text()
    listed = set(re.findall(r"\('(\w+)', '(\w+)'\)", sql))
    assert listed == {(c.domain, c.entity) for c in contracts().values()}


def test_profile_uses_the_session_and_the_projects_catalog(config):
    out = profiles(config)["lanhai"]["outputs"][config.profile]
    assert out["method"] == "session"
    params = out["server_side_parameters"]
    assert params["spark.sql.warehouse.dir"] == str(config.lake)
    assert str(config.path("catalog")) in params["spark.hadoop.javax.jdo.option.ConnectionURL"]


@pytest.fixture(scope="module")
def built(small_lake, spark, config):
    """Build the whole dbt project once on the small lake."""
    from lanhai.dbt import run_dbt

    assert run_dbt(config, ["build"]), "dbt build failed: see data/dbt/logs"
    return small_lake


@pytest.mark.integration
def test_staging_views_show_every_silver_row(built, spark):
    for name, silver in [("stg_transaction__orders", "orders"),
                         ("stg_transaction__order_items", "order_items"),
                         ("stg_user__users", "users")]:
        assert spark.table(f"staging.{name}").count() == spark.table(f"silver.{silver}").count()


def _all_scope(spark, mart, key="iso_week_label"):
    rows = spark.table(f"marts.{mart}").where("scope_type = 'all'").collect()
    return {r[key]: r for r in rows}


@pytest.mark.integration
def test_weekly_gmv_matches_the_simulators_truth_to_the_cent(built, spark):
    from decimal import Decimal

    mart = _all_scope(spark, "kpi_gmv_weekly")
    weeks = built["manifest"]["truth"]["weekly"]
    assert len(weeks) > 70
    for w in weeks:
        row = mart[w["week"]]
        assert row.gmv_cny == Decimal(f"{w['gmv']:.2f}"), w["week"]
        assert row.net_sales_cny == Decimal(f"{w['net_sales']:.2f}"), w["week"]
        assert row.paid_orders == w["paid_orders"], w["week"]


@pytest.mark.integration
@pytest.mark.parametrize(("mart", "column", "truth"), [
    ("kpi_nonstandard_share_weekly", "nonstandard_share", "nonstandard_share"),
    ("kpi_channel_penetration_weekly", "channel_penetration", "channel_penetration"),
    ("kpi_cac_weekly", "new_customers", "new_customers"),
    ("kpi_cac_weekly", "spend_cny", "spend"),
    ("kpi_cac_weekly", "cac_cny", "cac"),
    ("kpi_repurchase_weekly", "repurchase_rate", "repurchase_90d"),
    ("kpi_smb_repurchase_weekly", "repurchase_rate", "smb_repurchase_90d"),
    ("kpi_logistics_weekly", "logistics_cost_share", "logistics_cost_share"),
    ("kpi_logistics_weekly", "on_time_delivery_rate", "on_time_delivery"),
    ("kpi_smart_device_60plus_weekly", "smart_device_penetration",
     "smart_device_penetration_60plus"),
])
def test_weekly_kpi_matches_the_simulators_truth(built, spark, mart, column, truth):
    rows = {k: r[column] for k, r in _all_scope(spark, mart).items()}
    for w in built["manifest"]["truth"]["weekly"]:
        got, want = rows[w["week"]], w[truth]
        if want is None:
            assert got is None, (w["week"], got)
        elif column == "cac_cny":  # money: the mart rounds to the cent
            assert float(got) == pytest.approx(round(want, 2), abs=0.005), w["week"]
        else:
            assert float(got) == pytest.approx(want, rel=1e-12, abs=1e-12), w["week"]


@pytest.mark.integration
@pytest.mark.parametrize("category", ["3c_appliances", "beauty"])
def test_sku_overlap_matches_the_simulators_truth(built, spark, category):
    rows = {r.iso_week_label: r.sku_overlap_rate for r in spark.table(
        "marts.kpi_sku_overlap_weekly").where(f"scope_value = '{category}'").collect()}
    for w in built["manifest"]["truth"]["weekly"]:
        assert rows[w["week"]] == pytest.approx(w[f"sku_overlap_{category}"], rel=1e-12)


@pytest.mark.integration
def test_first_year_survival_matches_the_simulators_truth(built, spark):
    mart = {str(r.cohort_month)[:7]: r for r in spark.table(
        "marts.kpi_merchant_survival_monthly").where("is_covered").collect()}
    truth = built["manifest"]["truth"]["first_year_survival"]
    assert truth, "the small demo must cover at least one cohort's first year"
    assert set(mart) == {t["cohort_month"] for t in truth}
    for t in truth:
        row = mart[t["cohort_month"]]
        assert (row.numerator, row.denominator) == (t["survivors"], t["merchants"])
