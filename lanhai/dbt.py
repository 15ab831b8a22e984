"""dbt on the project's catalog: profiles and sources generated, dbt run in this process.

dbt-spark's `session` method calls `SparkSession.builder.getOrCreate()`; run in-process after
`get_spark()`, that returns this process's session, so dbt sees the same catalog and never
starts a second JVM to race for the embedded metastore. The profile also carries the same
Spark settings (`server_side_parameters`), so a bare `dbt` CLI in a fresh process opens the
same catalog (and, on the embedded profile, must be the only Spark process).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from lanhai.config import PROJECT_ROOT, Config
from lanhai.contracts import DERIVED, Contract, contracts

DBT_DIR = PROJECT_ROOT / "dbt_project"
SOURCES_YML = DBT_DIR / "models" / "staging" / "_sources.yml"
TARGETS_YAML = PROJECT_ROOT / "conf" / "targets.yaml"
SEEDS = DBT_DIR / "seeds"
KPI_REGISTRY_MACRO = DBT_DIR / "macros" / "kpi_registry.sql"
BRONZE_ENTITIES_MACRO = DBT_DIR / "macros" / "bronze_entities.sql"
KPI_FROM_KEYS = {"mart", "value", "numerator", "denominator", "where"}
REPORT_SECTIONS = ("headline", "trends", "segments", "channels", "logistics", "pilots")
UNITS = {"rate", "cny", "pct", "count", "ratio"}
DIRECTIONS = {"higher", "lower", "band"}
# dbt's unit tests check a model's SQL on fixed inputs: they pass or fail with the code, not
# with the day's data, so production runs (the transform DAG, an erasure's rebuild) leave them
# out, as dbt's documentation advises, and the test suite runs them (tests/test_dbt_project.py).
# 20 of them cost ~21 s of every transform run on the small lake.
PRODUCTION_FLAGS = ["--exclude-resource-type", "unit_test"]

# The lake's operational tables, for the data-quality mart (counts only; no PII is read).
OPERATIONAL = [
    {"name": "bronze", "schema": "bronze",
     "description": "Bronze: every landed record as landed, with lineage (_source_file, _line).",
     "tables": [{"name": e, "description": f"{e} as landed."} for e in sorted(contracts())]},
    {"name": "audit", "schema": "audit", "description": "What the jobs and the gate recorded.",
     "tables": [
         {"name": "ingest_runs", "description": "Row accounting per job, entity and batch: "
                                                "landed = inserted + updated + superseded + "
                                                "duplicates + quarantined."},
         {"name": "late_references", "description": "Records kept although a reference (an "
                                                    "order's user or merchant) was not in "
                                                    "silver yet."},
         {"name": "quality_results", "description": "Great Expectations results, one row per "
                                                    "expectation and run."},
         {"name": "landed_files", "description": "Each file bronze took, once: its arrival "
                                                 "(modification time in the landing zone) "
                                                 "and when bronze took it (lanhai.landed)."},
         {"name": "mart_builds", "description": "When each build of the marts started "
                                                "(kind `transform`), and which builds passed "
                                                "(kind `passed`, same build_id; "
                                                "lanhai.landed)."}]},
    {"name": "quarantine", "schema": "quarantine",
     "description": "Records that broke a contract rule.",
     "tables": [{"name": "records", "description": "One row per quarantined record: rule, "
                                                   "field, file, line, key, masked raw text."}]},
]


def profiles(config: Config) -> dict[str, Any]:
    """Return the dbt profiles of a config: session method, the project's Spark settings."""
    from lanhai.spark import spark_conf

    return {"lanhai": {"target": config.profile, "outputs": {config.profile: {
        "type": "spark", "method": "session", "host": "localhost",
        "schema": config.db("marts"),
        "threads": int(config.raw.get("dbt", {}).get("threads", 1)),
        "server_side_parameters": spark_conf(config),
    }}}}


def write_profiles(config: Config) -> Path:
    """Write profiles.yml under the profile's dbt folder and return that folder."""
    folder = config.path("dbt")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text(yaml.safe_dump(profiles(config), sort_keys=False),
                                         encoding="utf-8")
    return folder


def _column(f) -> dict[str, Any]:
    desc = f.description or f.name.replace("_", " ")
    if f.pii == "free_text":
        desc += " (free text: phone numbers, ID-card numbers and e-mail addresses masked)"
    elif f.pii:
        desc += f" (PII, {f.pii}: an HMAC-SHA256 token, never the value)"
    return {"name": f.name, "description": desc}


def sources(config_silver_schema: str = "silver") -> dict[str, Any]:
    """Return dbt sources for every silver table, one source per domain, from the contracts."""
    by_domain: dict[str, list[dict[str, Any]]] = {}
    for c in contracts().values():
        by_domain.setdefault(c.domain, []).append(_table(c))
        if c.history:
            by_domain[c.domain].append({
                "name": f"{c.entity}_history",
                "description": f"Every accepted version of {c.entity} (one row per "
                               f"{', '.join(c.key)} and {c.version}), for SCD2 history.",
                "columns": [_column(f) for f in c.fields if not f.is_nested]})
    for name, (domain, desc) in DERIVED.items():
        by_domain[domain].append({"name": name, "description": desc})
    silver = [
        {"name": domain, "schema": config_silver_schema,
         "description": f"Silver tables of the {domain} domain (typed, deduplicated, in CNY).",
         "tables": sorted(tables, key=lambda t: t["name"])}
        for domain, tables in sorted(by_domain.items())
    ]
    return {"version": 2, "sources": [*silver, *OPERATIONAL]}


def _table(c: Contract) -> dict[str, Any]:
    cols = [_column(f) for f in c.fields if not f.is_nested]
    if len(c.key) == 1:
        cols[[x["name"] for x in cols].index(c.key[0])]["data_tests"] = ["unique", "not_null"]
    return {"name": c.entity, "description": c.description, "columns": cols}


def sources_text() -> str:
    header = ("# Generated by `lanhai dbt-sources` from schemas/*.yaml: do not edit by hand.\n")
    return header + yaml.safe_dump(sources(), sort_keys=False, allow_unicode=True, width=100)


STAGING_YML = DBT_DIR / "models" / "staging" / "_staging.yml"
# Columns silver adds to what the sources send (not in any contract), described once here.
SILVER_COLUMNS = {
    "silver_loaded_at": "When silver loaded this row (the incremental models' watermark).",
    "fx_rate_to_cny": "Yuan per unit of the order's currency on its paid date (the latest "
                      "published rate on or before it; 1 for CNY; empty while unpaid).",
    "fx_rate_date": "The day of the rate used (the latest on or before the paid date).",
    "line_amount_local": "qty x unit price - discount, in the order's currency.",
    "line_gmv_cny": "The line's GMV: round(line amount x the paid date's rate, 2), half up.",
    "order_updated_at": "The version of the order the line was taken from.",
}


def _staging_renames(model: str) -> dict[str, str]:
    """{column: source column} of a staging view, from its SQL (`x as y` or `x`), or from the
    staging_columns macro's list when the view calls it."""
    sql = (DBT_DIR / "models" / "staging" / f"{model}.sql").read_text(encoding="utf-8")
    import re

    if m := re.search(r"staging_columns\('(\w+)'\)", sql):
        macro = (DBT_DIR / "macros" / "staging_columns.sql").read_text(encoding="utf-8")
        block = re.search(rf"'{m.group(1)}': \[(.*?)\]", macro, re.S).group(1)
        items = [*re.findall(r"'([^']+)'", block), "_silver_loaded_at as silver_loaded_at"]
    else:
        body = sql.split("select", 2)[-1].split("from source")[0]
        items = [i.strip() for i in body.split(",") if i.strip()]
    out = {}
    for item in items:
        parts = item.split(" as ")
        if all(re.fullmatch(r"\w+", x.strip()) for x in parts):
            out[parts[-1].strip()] = parts[0].strip()
    return out


def staging() -> dict[str, Any]:
    """_staging.yml with every column of a silver table's staging view described by its
    contract field (through the view's renames) or by SILVER_COLUMNS; other columns (the
    audit and quarantine views) keep the description written in the file."""
    raw = yaml.safe_load(STAGING_YML.read_text(encoding="utf-8"))
    by_entity = contracts()
    for model in raw["models"]:
        entity = model["name"].split("__", 1)[-1].removesuffix("_history")
        contract = by_entity.get("orders" if entity == "order_items" else entity)
        if contract is None:
            continue
        fields = {f.name: f for f in contract.fields if not f.is_nested}
        if entity == "order_items":
            fields = {**{k: fields[k] for k in ("order_id", "currency")},
                      **{f.name: f for f in contract.item_fields}}
        renames = _staging_renames(model["name"])
        for col in model["columns"]:
            source = renames.get(col["name"], col["name"])
            if source in fields:
                col["description"] = _column(fields[source])["description"]
            elif col["name"] in SILVER_COLUMNS:
                col["description"] = SILVER_COLUMNS[col["name"]]
    return raw


def staging_text() -> str:
    header = ("# One staging view per silver table (renames only); sources are in _sources.yml.\n"
              "# Column descriptions of silver tables' views come from schemas/ (`lanhai "
              "dbt-sources`).\n")
    return header + yaml.safe_dump(staging(), sort_keys=False, allow_unicode=True, width=100)


def run_dbt(config: Config, args: list[str]) -> bool:
    """Run a dbt command in this process on the project's session; return success."""
    from dbt.cli.main import dbtRunner

    from lanhai.spark import get_spark

    get_spark(config)
    profiles_dir = write_profiles(config)
    target = config.path("dbt")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    full = [*args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(profiles_dir),
            "--target-path", str(target / "target"), "--log-path", str(target / "logs"),
            "--no-version-check"]
    result = dbtRunner().invoke(full)
    return bool(result.success)


def load_targets(path: Path = TARGETS_YAML) -> dict[str, Any]:
    """Read and check the targets file: every target names a known KPI and a valid rule."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    kpis, targets = raw.get("kpis") or {}, raw.get("targets") or []
    for code, k in kpis.items():
        extra = sorted(set(k) - {"unit", "name_en", "name_zh", "from", "report", "period"})
        if extra:  # `{name_en: A, b}` in YAML's flow style makes `b` a key
            raise ValueError(f"{path.name}: kpi {code!r} has unknown keys {extra} (a comma in "
                             f"an unquoted name?)")
        unknown = sorted(set(k.get("report") or []) - set(REPORT_SECTIONS))
        if unknown:
            raise ValueError(f"{path.name}: kpi {code!r}: no report section {unknown} (the "
                             f"sections: {', '.join(REPORT_SECTIONS)})")
        src = k.get("from")
        if src is not None and (not isinstance(src, dict) or set(src) - KPI_FROM_KEYS
                                or not {"mart", "value", "numerator"} <= set(src)):
            raise ValueError(f"{path.name}: kpi {code!r}: `from` needs mart, value and "
                             f"numerator (and may have denominator, where), not {src!r}")
        if k.get("period", "week") not in ("week", "quarter"):
            raise ValueError(f"{path.name}: kpi {code!r}: period is week (the default) or "
                             f"quarter, not {k['period']!r}")
        if k.get("period") == "quarter" and (k.get("from") or k.get("report")):
            raise ValueError(f"{path.name}: kpi {code!r}: a quarterly KPI is shaped in "
                             f"mart_quarterly_review; `from` and `report` are the weekly "
                             f"review's")
        if k.get("unit") not in UNITS:
            raise ValueError(f"{path.name}: kpi {code!r} has unit {k.get('unit')!r}, "
                             f"not one of {sorted(UNITS)}")
    seen = set()
    for i, t in enumerate(targets, 1):
        where = f"{path.name}: target {i} ({t.get('kpi')}, {t.get('scope_value')})"
        if t.get("kpi") not in kpis:
            raise ValueError(f"{where}: unknown kpi")
        if t.get("direction") not in DIRECTIONS:
            raise ValueError(f"{where}: direction must be one of {sorted(DIRECTIONS)}")
        need = ("low", "high") if t["direction"] == "band" else ("target",)
        if any(t.get(n) is None for n in need):
            raise ValueError(f"{where}: a {t['direction']} target needs {' and '.join(need)}")
        key = (t["kpi"], t.get("scope_type"), t.get("scope_value"))
        if key in seen:
            raise ValueError(f"{where}: a second target for the same KPI and scope")
        seen.add(key)
    return {"kpis": kpis, "targets": targets}


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    # dbt-spark loads seeds as SQL literals and does not escape "'": use the typographic one.
    writer.writerows(["" if v is None else str(v).replace("'", "\u2019") for v in row]
                     for row in rows)
    return out.getvalue()


def kpi_registry_text() -> str:
    """Return dbt_project/macros/kpi_registry.sql: the `from` entries of conf/targets.yaml as a
    macro that int_kpi_values_weekly loops over (one union branch per KPI read straight from a
    weekly KPI mart), in the file's order."""
    import json

    rows = []
    for code, k in load_targets()["kpis"].items():
        src = k.get("from")
        if src:
            entry = {"kpi": code, "mart": src["mart"], "value": src["value"],
                     "numerator": src["numerator"],
                     "denominator": src.get("denominator", "null"),
                     "where": src.get("where", "true")}
            rows.append("        " + json.dumps(entry, ensure_ascii=False) + ",")
    return ("{#- Generated from conf/targets.yaml by `lanhai dbt-sources`: do not edit. The\n"
            "    KPIs of the weekly review read straight from a weekly KPI mart: its value,\n"
            "    numerator and denominator columns, and which of its rows count. -#}\n"
            "{% macro kpi_registry() -%}\n"
            "    {{ return([\n" + "\n".join(rows) + "\n    ]) }}\n"
            "{%- endmacro %}\n")


def bronze_entities_text() -> str:
    """Return dbt_project/macros/bronze_entities.sql: every contract's (domain, entity), the
    bronze tables stg_bronze__records reads, from schemas/."""
    pairs = ", ".join(f"('{c.domain}', '{c.entity}')" for c in contracts().values())
    return ("{#- Generated from schemas/ by `lanhai dbt-sources`: do not edit. Every source\n"
            "    entity's (domain, entity): one bronze table each. -#}\n"
            "{% macro bronze_entities() -%}\n"
            f"    {{{{ return([{pairs}]) }}}}\n"
            "{%- endmacro %}\n")


def generated_macros() -> dict[Path, str]:
    """The dbt macros `lanhai dbt-sources` writes from conf/targets.yaml and schemas/."""
    return {KPI_REGISTRY_MACRO: kpi_registry_text(), BRONZE_ENTITIES_MACRO: bronze_entities_text()}


def seed_texts() -> dict[Path, str]:
    """Return the dbt seeds generated from conf/targets.yaml: the KPI catalogue and targets."""
    t = load_targets()
    catalogue = _csv(["kpi", "unit", "name_en", "name_zh"],
                     [[code, k["unit"], k["name_en"], k["name_zh"]]
                      for code, k in t["kpis"].items()])
    targets = _csv(
        ["kpi", "scope_type", "scope_value", "direction", "target", "band_low", "band_high",
         "baseline", "plan"],
        [[x["kpi"], x["scope_type"], x["scope_value"], x["direction"], x.get("target"),
          x.get("low"), x.get("high"), x.get("baseline"), x.get("plan", "")]
         for x in t["targets"]])
    return {SEEDS / "kpi_catalogue.csv": catalogue, SEEDS / "kpi_targets.csv": targets}


def build_manifest(config: Config) -> Path:
    """`dbt parse` without Spark: the manifest the Airflow transform DAG renders its tasks from
    (so that parsing a DAG file runs no dbt). Returns the manifest's path."""
    from dbt.cli.main import dbtRunner

    profiles_dir = write_profiles(config)
    target = config.path("dbt")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    result = dbtRunner().invoke(["parse", "--project-dir", str(DBT_DIR), "--profiles-dir",
                                 str(profiles_dir), "--target-path", str(target / "target"),
                                 "--log-path", str(target / "logs"), "--no-version-check",
                                 "--quiet"])
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    return target / "target" / "manifest.json"


# --- dbt under Airflow ---------------------------------------------------------------------
def open_catalog(context) -> None:
    """pre_execute of every dbt task: open the project's Spark session (and take the catalog
    lock) before dbt-spark's `getOrCreate`, so dbt runs on it instead of a bare session."""
    from lanhai.config import load_config
    from lanhai.spark import get_spark

    config = load_config()
    write_profiles(config)
    get_spark(config)


# The transform's layers when it runs one `dbt build` per layer (`airflow.dbt_tasks: layer`).
# Each layer is what the models of one folder need (`+`, their ancestors), less what earlier
# layers built: so a layer only reads what it or an earlier layer builds, whatever folder a
# model lives in (intermediate views that read `fct_orders` go with the core marts).
DBT_LAYER_TARGETS = (("staging", "path:seeds +path:models/staging"),
                     ("core", "+path:models/marts/core"),
                     ("kpi", "+path:models/marts/kpi"),
                     ("review", "path:seeds path:models"))


def dbt_layers() -> list[tuple[str, str, str | None]]:
    """(layer, dbt `--select`, dbt `--exclude`) for each `dbt build` of the layer mode."""
    layers, before = [], []
    for layer, select in DBT_LAYER_TARGETS:
        layers.append((layer, select, " ".join(before) or None))
        before.append(select)
    return layers


def dbt_tasks(config: Config) -> str:
    """How the transform DAG runs dbt: `layer` (a `dbt build` per layer, the default) or `model`
    (a Cosmos task per model); `$LANHAI_DBT_TASKS` overrides the profile's `airflow.dbt_tasks`."""
    mode = os.environ.get("LANHAI_DBT_TASKS") or config.airflow.get("dbt_tasks") or "layer"
    if mode not in ("layer", "model"):
        raise ValueError(f"airflow.dbt_tasks (or LANHAI_DBT_TASKS) is {mode!r}: it must be "
                         f"'layer' (a `dbt build` per layer) or 'model' (a task per dbt model)")
    return mode
