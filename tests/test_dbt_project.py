"""The dbt project: generated files up to date, staging builds on the small lake."""

from __future__ import annotations

import pytest

from lanhai.dbt import SOURCES_YML, profiles, sources_text


def test_sources_yml_is_generated_from_the_contracts():
    assert SOURCES_YML.read_text(encoding="utf-8") == sources_text(), (
        "run `lanhai dbt-sources`: _sources.yml is out of date with schemas/")


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


@pytest.mark.integration
def test_weekly_gmv_matches_the_simulators_truth_to_the_cent(built, spark):
    from decimal import Decimal

    mart = {r.iso_week_label: r for r in spark.table("marts.kpi_gmv_weekly").collect()}
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
    ("kpi_repurchase_weekly", "repurchase_rate_90d", "repurchase_90d"),
    ("kpi_logistics_weekly", "logistics_cost_share", "logistics_cost_share"),
    ("kpi_logistics_weekly", "on_time_delivery_rate", "on_time_delivery"),
])
def test_weekly_kpi_matches_the_simulators_truth(built, spark, mart, column, truth):
    rows = {r.iso_week_label: r[column] for r in spark.table(f"marts.{mart}").collect()}
    for w in built["manifest"]["truth"]["weekly"]:
        got, want = rows[w["week"]], w[truth]
        if want is None:
            assert got is None, (w["week"], got)
        elif column == "cac_cny":  # money: the mart rounds to the cent
            assert float(got) == pytest.approx(round(want, 2), abs=0.005), w["week"]
        else:
            assert float(got) == pytest.approx(want, rel=1e-12, abs=1e-12), w["week"]
