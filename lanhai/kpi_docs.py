"""docs/kpis.md, generated from conf/targets.yaml: every KPI of the weekly review with its
unit, the plan's targets and an example query (`lanhai dbt-sources` writes it; a test fails
while it is out of date and runs every example query on the fast path)."""

from __future__ import annotations

from lanhai.config import PROJECT_ROOT
from lanhai.dbt import load_targets

KPI_DOCS = PROJECT_ROOT / "docs" / "kpis.md"

UNIT_TEXT = {
    "rate": "a fraction (0.35 = 35%); changes in percentage points",
    "cny": "CNY; changes in CNY and relative",
    "pct": "a percentage already (50 = 50%); changes in points",
    "count": "a count; changes absolute and relative",
    "ratio": "a plain ratio",
}


def example_query(kpi: str, targets: list[dict], period: str = "week") -> str:
    """The weeks of one KPI from the weekly-review mart: at the scope the plan targets, or
    every scope of the latest complete week when the plan sets no target for it (a quarterly
    KPI: the same from the quarterly-review mart)."""
    if period == "quarter":
        cols = ("quarter_label, scope_type, scope_value, value, numerator, denominator, "
                "target, rag")
        if targets:
            t = targets[0]
            return (f"select {cols}\nfrom marts.mart_quarterly_review\n"
                    f"where kpi = '{kpi}' and scope_type = '{t['scope_type']}' "
                    f"and scope_value = '{t['scope_value']}'\n  and is_complete_quarter\n"
                    f"order by quarter_label desc\nlimit 8")
        return (f"select {cols}\nfrom marts.mart_quarterly_review\n"
                f"where kpi = '{kpi}' and quarter_label = (\n"
                f"    select max(quarter_label) from marts.mart_quarterly_review "
                f"where is_complete_quarter)\n"
                f"order by scope_type, scope_value")
    cols = ("iso_week_label, scope_type, scope_value, value, numerator, denominator, "
            "target, rag")
    if targets:
        t = targets[0]
        return (f"select {cols}\nfrom marts.mart_weekly_review\n"
                f"where kpi = '{kpi}' and scope_type = '{t['scope_type']}' "
                f"and scope_value = '{t['scope_value']}'\n  and is_complete_week\n"
                f"order by iso_week_label desc\nlimit 8")
    return (f"select {cols}\nfrom marts.mart_weekly_review\n"
            f"where kpi = '{kpi}' and iso_week_label = (\n"
            f"    select max(iso_week_label) from marts.mart_weekly_review "
            f"where is_complete_week)\n"
            f"order by scope_type, scope_value")


def examples() -> dict[str, str]:
    t = load_targets()
    return {code: example_query(code, [x for x in t["targets"] if x["kpi"] == code],
                                k.get("period", "week"))
            for code, k in t["kpis"].items()}


def _target_text(x: dict) -> str:
    if x["direction"] == "band":
        rule = f"between {x['low']} and {x['high']}"
    else:
        rule = f"{'at least' if x['direction'] == 'higher' else 'at most'} {x['target']}"
    base = f"; baseline {x['baseline']}" if x.get("baseline") is not None else ""
    return f"{x['scope_type']} = {x['scope_value']}: {rule}{base} (plan: “{x.get('plan', '')}”)"


def kpi_docs_text() -> str:
    t = load_targets()
    queries = examples()
    out = [
        "# The KPIs of the weekly and the quarterly review",
        "",
        "Generated from `conf/targets.yaml` by `lanhai dbt-sources`: do not edit by hand. The",
        "definitions are `../shared/PLAN.md`'s; every KPI is one row per ISO week and scope in",
        "`marts.mart_weekly_review` (value, numerator, denominator, the plan's target and RAG),",
        "and its own `kpi_*` mart holds the parts it is computed from; a quarterly KPI is one row",
        "per calendar quarter and scope in `marts.mart_quarterly_review`, from the",
        "`mart_quarterly_*` marts. Run an example with",
        '`lanhai sql "<query>"` (no JVM) or from any SQL client on the cluster profile.',
        "",
        "| KPI | name | 中文 | unit |",
        "| --- | --- | --- | --- |",
    ]
    out += [f"| [`{code}`](#{code}) | {k['name_en']} | {k['name_zh']} | {k['unit']} |"
            for code, k in t["kpis"].items()]
    for code, k in t["kpis"].items():
        targets = [x for x in t["targets"] if x["kpi"] == code]
        out += ["", f"## {code}", "", f"{k['name_en']} ({k['name_zh']}). Unit: "
                f"{UNIT_TEXT[k['unit']]}."]
        src = k.get("from")
        if src:
            den = f", denominator `{src['denominator']}`" if src.get("denominator") else ""
            rows = f", rows where `{src['where']}`" if src.get("where") else ""
            out += ["", f"From `marts.{src['mart']}`: value `{src['value']}`, numerator "
                    f"`{src['numerator']}`{den}{rows}."]
        elif k.get("period") == "quarter":
            out += ["", "Shaped in `mart_quarterly_review` from the `mart_quarterly_*` marts, "
                    "one row per calendar quarter."]
        else:
            out += ["", "Shaped in `int_kpi_values_weekly` (a cohort shown in the week its window "
                    "ends, merchants counted per tier, or an A/B test in the week it "
                    "concludes)."]
        if targets:
            out += ["", "The plan's targets:", ""]
            out += [f"- {_target_text(x)}" for x in targets]
        else:
            out += ["", "The plan sets no target for it: it is reported for context."]
        out += ["", "```sql", queries[code], "```"]
    return "\n".join(out) + "\n"
