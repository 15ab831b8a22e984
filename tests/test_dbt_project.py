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


@pytest.mark.integration
def test_staging_builds_and_tests_pass_on_the_small_lake(small_lake, spark, config):
    from lanhai.dbt import run_dbt

    assert run_dbt(config, ["build", "--select", "staging"])
    for name, silver in [("stg_transaction__orders", "orders"),
                         ("stg_transaction__order_items", "order_items"),
                         ("stg_user__users", "users")]:
        assert spark.table(f"staging.{name}").count() == spark.table(f"silver.{silver}").count()
