"""Analysts' entry points (the notebooks call these and hold no logic of their own).

    from lanhai import analysis
    spark = analysis.open_marts()            # read-only: never blocks the pipelines
    analysis.review(spark, "2025-W23")

Every function returns a pandas DataFrame selected from the marts; none computes a KPI.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame, SparkSession

from lanhai.config import Config, load_config


def to_pandas(df: DataFrame) -> pd.DataFrame:
    """A Spark result as pandas, exact decimals (money) as floats so that pandas can plot and
    sum them (the marts keep the exact values; this is for reading)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DecimalType

    return df.select(*[F.col(f.name).cast("double").alias(f.name)
                       if isinstance(f.dataType, DecimalType) else F.col(f.name)
                       for f in df.schema.fields]).toPandas()


def open_marts(config: Config | None = None) -> SparkSession:
    """A read-only Spark session over the lake's Delta tables (lanhai.spark.get_reader_spark)."""
    from lanhai.spark import get_reader_spark

    return get_reader_spark(config or load_config())


def _marts(config: Config | None) -> str:
    return (config or load_config()).db("marts")


def latest_complete_week(spark: SparkSession, config: Config | None = None) -> str | None:
    from lanhai.summary import latest_complete_week as latest

    return latest(spark, config or load_config())


def review(spark: SparkSession, week: str | None = None, scope_type: str | None = None,
           config: Config | None = None) -> pd.DataFrame:
    """The weekly-review rows of a week (default: the latest complete one)."""
    week = week or latest_complete_week(spark, config)
    where = f"iso_week_label = '{week}'"
    if scope_type:
        where += f" and scope_type = '{scope_type}'"
    return to_pandas(spark.sql(
        f"select kpi, kpi_name_en, scope_type, scope_value, value, numerator, denominator, "
        f"previous_value, change, change_unit, target, rag from {_marts(config)}"
        f".mart_weekly_review where {where} order by kpi, scope_type, scope_value"))


def kpi_trend(spark: SparkSession, kpi: str, scope_type: str = "all",
              scope_value: str | None = None, config: Config | None = None) -> pd.DataFrame:
    """One KPI week by week, one column per scope of the dimension (or the one scope asked)."""
    where = f"kpi = '{kpi}' and scope_type = '{scope_type}'"
    if scope_value:
        where += f" and scope_value = '{scope_value}'"
    df = to_pandas(spark.sql(f"select iso_week_label, scope_value, value from {_marts(config)}"
                             f".mart_weekly_review where {where}"))
    return df.pivot(index="iso_week_label", columns="scope_value", values="value").sort_index()


def ltv_cohorts(spark: SparkSession, scope_type: str = "all",
                config: Config | None = None) -> pd.DataFrame:
    """Historical LTV by monthly acquisition cohort at 30/90/180/365 days (only horizons the
    data covers), with CAC and LTV/CAC: kpi_ltv_cohort_monthly."""
    return to_pandas(spark.sql(
        f"select cohort_month, scope_value, customers, "
        f"if(is_30d_covered, ltv_30d_cny, null) as ltv_30d_cny, "
        f"if(is_90d_covered, ltv_90d_cny, null) as ltv_90d_cny, "
        f"if(is_180d_covered, ltv_180d_cny, null) as ltv_180d_cny, "
        f"if(is_365d_covered, ltv_365d_cny, null) as ltv_365d_cny, "
        f"cac_cny, ltv_cac_90d, ltv_cac_365d from {_marts(config)}.kpi_ltv_cohort_monthly "
        f"where scope_type = '{scope_type}' order by cohort_month, scope_value"))


def repurchase(spark: SparkSession, week: str | None = None, scope_type: str = "segment",
               config: Config | None = None) -> pd.DataFrame:
    """90-day repurchase (platform and SMB pairs) of a week by the scopes of one dimension."""
    week = week or latest_complete_week(spark, config)
    return to_pandas(spark.sql(
        f"select kpi, scope_value, numerator as repeat_customers, denominator as customers, "
        f"value as rate, previous_value, change as change_pp from {_marts(config)}"
        f".mart_weekly_review where iso_week_label = '{week}' and kpi in "
        f"('repurchase_rate_90d', 'smb_repurchase_rate_90d') and scope_type in "
        f"('all', '{scope_type}') order by kpi, scope_value"))


def movers(spark: SparkSession, week: str | None = None, kpi: str = "gmv", top: int = 10,
           config: Config | None = None) -> pd.DataFrame:
    """What moved a KPI this week: each scope's contribution to the change (mart_weekly_movers)."""
    week = week or latest_complete_week(spark, config)
    return to_pandas(spark.sql(
        f"select scope_type, scope_value, numerator_change, denominator_change, contribution, "
        f"contribution_share, headline_change, change_unit from {_marts(config)}"
        f".mart_weekly_movers where iso_week_label = '{week}' and kpi = '{kpi}' "
        f"order by abs(contribution) desc limit {int(top)}"))


def quality(spark: SparkSession, week: str | None = None,
            config: Config | None = None) -> pd.DataFrame:
    """The data-quality mart for a week: landed, quarantined, late references, gate results."""
    week = week or latest_complete_week(spark, config)
    return to_pandas(spark.sql(f"select * from {_marts(config)}.mart_data_quality_weekly "
                     f"where iso_week_label = '{week}' order by domain, entity"))
