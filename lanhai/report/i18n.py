"""The report's words in Simplified Chinese (the default) and English. KPI names come from the
marts (conf/targets.yaml via the kpi_catalogue seed); scope names and headings live here."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "title": {"zh": "蓝海 · 增长计划周度经营复盘", "en": "Lanhai · weekly operating review of the growth plan"},
    "week": {"zh": "周", "en": "Week"},
    "built": {"zh": "生成时间", "en": "Built"},
    "snapshot": {"zh": "数据快照（Delta 版本）", "en": "Data snapshot (Delta versions)"},
    "headline": {"zh": "一、核心指标与目标", "en": "1. Headline: the plan's KPIs against target"},
    "headline_note": {"zh": "RAG：绿色达标；琥珀色距目标10%以内；红色未达标。变化为与上一ISO周相比。",
                      "en": "RAG: green meets the target; amber within 10% of it; red otherwise. "
                            "Change is against the previous ISO week."},
    "trends": {"zh": "二、近12周趋势", "en": "2. Twelve-week trends"},
    "pilots": {"zh": "三、试点品类", "en": "3. Pilot categories"},
    "pilots_note": {"zh": "试点GMV占比与预算占比对照计划拆分（可持续40%、银发35%、二手25%）。",
                    "en": "Pilot GMV split and budget split against the plan's split "
                          "(sustainable 40%, silver economy 35%, second-hand 25%)."},
    "segments": {"zh": "四、重点人群", "en": "4. Segments"},
    "channels": {"zh": "五、渠道", "en": "5. Channels"},
    "merchants": {"zh": "六、商家", "en": "6. Merchants"},
    "survival_by_cohort": {"zh": "新商家首年存活率（按入驻月份队列）",
                           "en": "New merchants' first-year survival by onboarding cohort"},
    "logistics": {"zh": "七、物流与库存", "en": "7. Logistics and inventory"},
    "quality": {"zh": "八、数据质量与时效", "en": "8. Data quality and freshness"},
    "movers": {"zh": "九、主要变动来源", "en": "9. Largest movers"},
    "movers_note": {"zh": "各维度对总体周环比变化的贡献（同一维度内各项贡献之和等于总体变化）。",
                    "en": "Each scope's contribution to the KPI's change at platform level (the "
                          "contributions within one dimension add up to the change)."},
    "kpi": {"zh": "指标", "en": "KPI"},
    "scope": {"zh": "范围", "en": "Scope"},
    "value": {"zh": "本周", "en": "This week"},
    "previous": {"zh": "上周", "en": "Last week"},
    "change": {"zh": "变化", "en": "Change"},
    "target": {"zh": "目标", "en": "Target"},
    "rag": {"zh": "状态", "en": "RAG"},
    "contribution": {"zh": "贡献", "en": "Contribution"},
    "share_of_change": {"zh": "占变化比例", "en": "Share of change"},
    "headline_change": {"zh": "总体变化", "en": "Headline change"},
    "entity": {"zh": "数据表", "en": "Table"},
    "rows_landed": {"zh": "落地行数", "en": "Rows landed"},
    "rows_quarantined": {"zh": "隔离行数", "en": "Rows quarantined"},
    "late_refs": {"zh": "迟到引用（未解决）", "en": "Late references (unresolved)"},
    "checks": {"zh": "质量检查", "en": "Quality checks"},
    "critical": {"zh": "严重失败", "en": "Critical failures"},
    "warnings": {"zh": "警告", "en": "Warnings"},
    "latest_data": {"zh": "最新数据日期", "en": "Latest data"},
    "freshness": {"zh": "时效（中位数 / P95）", "en": "Freshness (median / p95)"},
    "freshness_note": {"zh": "时效：文件到达落地区至首次纳入数据集市构建（构建开始）的时间。",
                       "en": "Freshness: from a file's arrival in the landing zone to the start "
                             "of the first build of the marts that included it."},
    "restated": {"zh": "已发布数值的更正", "en": "Published values since restated"},
    "restated_note": {"zh": "此前周报已发布、其后因迟到文件或数据更正而改变的数值（每项取最近一次发布）。",
                      "en": "Values an earlier review published that have changed since (late "
                            "files, corrected data); each against its latest publication."},
    "no_restatements": {"zh": "此前发布的数值均未改变。",
                        "en": "No value published by an earlier review has changed."},
    "published": {"zh": "已发布", "en": "Published"},
    "published_in": {"zh": "发布于", "en": "In the review of"},
    "now": {"zh": "现值", "en": "Now"},
    "rule": {"zh": "规则", "en": "Rule"},
    "field": {"zh": "字段", "en": "Field"},
    "quarantine_by_rule": {"zh": "本周隔离记录（按规则）", "en": "Rows quarantined this week, by rule"},
    "gate": {"zh": "质量闸门（Great Expectations）", "en": "Quality gate (Great Expectations)"},
    "gate_passed": {"zh": "本周数据通过质量闸门：{checks}项检查，严重失败0项，警告{warnings}项。",
                    "en": "This week's data passed the quality gate: {checks} checks, no critical "
                          "failure, {warnings} warnings."},
    "gate_not_run": {"zh": "本周数据尚未经过质量闸门检查。", "en": "The quality gate has not checked this week's data."},
    "no_data": {"zh": "本周（{week}）没有数据：数据集市中没有该周的指标。报告不显示任何数字。",
                "en": "There is no data for {week}: the marts hold no KPI for that week. This "
                      "report shows no numbers."},
    "gate_failed": {"zh": "本周数据未通过质量闸门，指标暂不发布（避免展示错误数字）。失败检查如下：",
                    "en": "This week's data failed the quality gate, so its KPIs are withheld "
                          "rather than shown wrong. The failed checks:"},
    "incomplete": {"zh": "本周数据不完整：数据截至{last}，本周结束于{end}。",
                   "en": "This week is incomplete: the data reaches {last}; the week ends {end}."},
    "experiments": {"zh": "本周结束的A/B实验", "en": "A/B tests concluded this week"},
    "experiments_note": {"zh": "转化：曝光后7天内有支付订单的用户占比。提升为实验组减对照组（百分点），"
                               "含95%置信区间；p值为双比例检验；样本比例检验p<0.001即判定失衡。",
                         "en": "Conversion: exposed users with a paid order within 7 days of "
                               "their first exposure. Lift is treatment minus control in points, "
                               "with its 95% interval; p from the two-proportion test; a "
                               "sample-ratio p below 0.001 flags the split."},
    "no_experiments": {"zh": "本周没有结束的A/B实验。", "en": "No A/B test concluded this week."},
    "experiment": {"zh": "实验", "en": "Experiment"},
    "control": {"zh": "对照组", "en": "Control"},
    "treatment": {"zh": "实验组", "en": "Treatment"},
    "lift": {"zh": "提升（95%区间）", "en": "Lift (95% interval)"},
    "p_value": {"zh": "p值", "en": "p-value"},
    "verdict": {"zh": "结论", "en": "Verdict"},
    # the quarterly review
    "q_title": {"zh": "蓝海 · 增长计划季度复盘", "en": "Lanhai · quarterly review of the growth plan"},
    "quarter": {"zh": "季度", "en": "Quarter"},
    "this_quarter": {"zh": "本季度", "en": "This quarter"},
    "last_quarter": {"zh": "上季度", "en": "Last quarter"},
    "q_headline": {"zh": "一、核心指标与目标", "en": "1. Headline: the quarter against the plan"},
    "q_headline_note": {"zh": "RAG：绿色达标；琥珀色距目标10%以内；红色未达标。变化为与上一季度相比。",
                        "en": "RAG: green meets the target; amber within 10% of it; red "
                              "otherwise. Change is against the previous quarter."},
    "q_growth": {"zh": "二、品类增长", "en": "2. Category growth"},
    "yoy_growth": {"zh": "同比增长", "en": "Growth, year on year"},
    "growth_by_category": {"zh": "各品类GMV同比增长", "en": "GMV growth year on year, by category"},
    "q_feedback": {"zh": "三、用户反馈", "en": "3. User feedback"},
    "q_feedback_note": {"zh": "按评价发布时间计入季度；每条评价取最新版本；差评为1-2星。",
                        "en": "Reviews count in the quarter they were posted, each in its "
                              "latest version; poor reviews are 1-2 stars."},
    "rating_by_category": {"zh": "各品类平均评分", "en": "Average rating by category"},
    "q_merchants": {"zh": "四、商家满意度与存活", "en": "4. Merchant satisfaction and survival"},
    "q_survey_note": {"zh": "NPS = 9-10分占比 − 0-6分占比（百分点）；问卷在季度结束后三周内回收，"
                            "本报告计入已收到的答卷。",
                      "en": "NPS = % scoring 9-10 minus % scoring 0-6, in points; the survey "
                            "runs for three weeks after the quarter, and this report counts "
                            "the answers received so far."},
    "nps_by_size": {"zh": "按商家规模的NPS", "en": "NPS by merchant size"},
    "q_survival": {"zh": "本季度结束首年观察期的新商家队列", "en": "Cohorts whose first year ended this quarter"},
    "q_no_cohorts": {"zh": "本季度没有结束首年观察期的队列。", "en": "No cohort's first year ended this quarter."},
    "q_no_data": {"zh": "{quarter}没有数据：数据集市中没有该季度的指标。报告不显示任何数字。",
                  "en": "There is no data for {quarter}: the marts hold no KPI for that quarter. "
                        "This report shows no numbers."},
    "q_incomplete": {"zh": "本季度数据不完整：季度结束于{end}，数据尚未覆盖全季度。",
                     "en": "This quarter is incomplete: it ends {end}, and the data does not "
                           "reach that day yet."},
    "cohort": {"zh": "队列月份", "en": "Cohort"},
    "merchants_n": {"zh": "商家数", "en": "Merchants"},
    "survivors": {"zh": "存活商家", "en": "Survivors"},
    "survival": {"zh": "首年存活率", "en": "First-year survival"},
    "failed_rows": {"zh": "异常行数", "en": "Rows"},
    "table": {"zh": "表", "en": "Table"},
    "severity": {"zh": "级别", "en": "Severity"},
    "interval": {"zh": "检查区间", "en": "Interval"},
    "footer": {"zh": "所有数字均来自数据集市（marts），本报告不另行计算。",
               "en": "Every number comes from the marts; the report computes none of its own."},
    "target_line": {"zh": "目标", "en": "target"},
    "plan_split": {"zh": "计划占比", "en": "plan"},
    "actual_split": {"zh": "实际占比", "en": "actual"},
    "gmv_split": {"zh": "GMV占比", "en": "GMV split"},
    "budget_split": {"zh": "预算占比", "en": "Budget split"},
}

RAG = {
    "green": {"zh": "绿", "en": "green"},
    "amber": {"zh": "琥珀", "en": "amber"},
    "red": {"zh": "红", "en": "red"},
}

SCOPE_TYPES = {
    "all": {"zh": "全平台", "en": "platform"},
    "category": {"zh": "品类", "en": "category"},
    "pilot_category": {"zh": "试点品类", "en": "pilot category"},
    "segment": {"zh": "人群", "en": "segment"},
    "city_tier": {"zh": "城市等级", "en": "city tier"},
    "channel": {"zh": "渠道", "en": "channel"},
    "merchant_size": {"zh": "商家规模", "en": "merchant size"},
    "merchant_tier": {"zh": "商家层级", "en": "merchant tier"},
    "experiment": {"zh": "实验", "en": "A/B test"},
}

SCOPE_VALUES = {
    "all": {"zh": "全部", "en": "all"},
    # categories
    "3c_appliances": {"zh": "3C家电", "en": "3C & appliances"},
    "beauty": {"zh": "美妆", "en": "beauty"},
    "apparel": {"zh": "服饰", "en": "apparel"},
    "mother_baby": {"zh": "母婴", "en": "mother & baby"},
    "health": {"zh": "健康", "en": "health"},
    "crafts": {"zh": "手工艺品", "en": "crafts"},
    "sports": {"zh": "运动", "en": "sports"},
    "pet_supplies": {"zh": "宠物用品", "en": "pet supplies"},
    "fresh": {"zh": "生鲜", "en": "fresh food"},
    "food": {"zh": "食品", "en": "food"},
    "home": {"zh": "家居", "en": "home"},
    "smart_devices": {"zh": "智能设备", "en": "smart devices"},
    # pilot categories and the budget's reserve
    "sustainable": {"zh": "可持续消费", "en": "sustainable"},
    "silver_economy": {"zh": "银发经济", "en": "silver economy"},
    "second_hand": {"zh": "二手商品", "en": "second-hand"},
    "reserve": {"zh": "预留", "en": "reserve"},
    # segments
    "gen_z": {"zh": "Z世代", "en": "Gen-Z"},
    "silver_60_plus": {"zh": "银发（60岁以上）", "en": "silver (60+)"},
    "gen_z_pet_owner": {"zh": "Z世代养宠人群", "en": "Gen-Z pet owners"},
    "silver_tech_enthusiast": {"zh": "银发科技爱好者", "en": "silver tech enthusiasts"},
    "lower_tier_city": {"zh": "下沉市场", "en": "lower-tier cities"},
    # city tiers
    "tier1": {"zh": "一线", "en": "tier 1"},
    "new_tier1": {"zh": "新一线", "en": "new tier 1"},
    "tier2": {"zh": "二线", "en": "tier 2"},
    "tier3": {"zh": "三线", "en": "tier 3"},
    "tier4": {"zh": "四线", "en": "tier 4"},
    "tier5": {"zh": "五线", "en": "tier 5"},
    # channels
    "live_stream": {"zh": "直播", "en": "live stream"},
    "recommendation": {"zh": "推荐", "en": "recommendation"},
    "kol": {"zh": "KOL", "en": "KOL"},
    "community_group": {"zh": "社区团购", "en": "community group"},
    "search": {"zh": "搜索", "en": "search"},
    "other": {"zh": "其他", "en": "other"},
    # merchant size and tiers
    "SMB": {"zh": "中小商家", "en": "SMB"},
    "KA": {"zh": "大客户（KA）", "en": "KA"},
    "S": {"zh": "S级", "en": "S"},
    "A": {"zh": "A级", "en": "A"},
    "B": {"zh": "B级", "en": "B"},
    "C": {"zh": "C级", "en": "C"},
}

DOMAINS = {
    "user": {"zh": "用户", "en": "user"},
    "product": {"zh": "商品", "en": "product"},
    "transaction": {"zh": "交易", "en": "transaction"},
    "logistics": {"zh": "物流", "en": "logistics"},
    "marketing": {"zh": "营销", "en": "marketing"},
    "fx": {"zh": "汇率", "en": "FX"},
}


# the A/B readout's verdicts (lanhai.experiments) in Chinese
VERDICTS_ZH = {
    "sample ratio mismatch: do not trust the result": "样本比例失衡：结果不可信",
    "running: not enough data yet": "进行中：样本量尚不足",
    "not enough data": "样本量不足",
    "running": "进行中",
    "treatment wins": "实验组胜出",
    "treatment loses": "实验组落后",
    "no significant difference": "无显著差异",
}


def verdict(text: str, lang: str) -> str:
    return VERDICTS_ZH.get(text, text) if lang == "zh" else text


def t(key: str, lang: str, **kwargs) -> str:
    text = TEXT[key][lang]
    return text.format(**kwargs) if kwargs else text


def scope_label(scope_type: str, scope_value: str, lang: str) -> str:
    """'全平台' / 'platform'; '渠道：直播' / 'channel: live stream'."""
    if scope_type == "all":
        return SCOPE_TYPES["all"][lang]
    kind = SCOPE_TYPES.get(scope_type, {}).get(lang, scope_type)
    name = SCOPE_VALUES.get(scope_value, {}).get(lang, scope_value)
    return f"{kind}：{name}" if lang == "zh" else f"{kind}: {name}"


def value_label(scope_value: str, lang: str) -> str:
    return SCOPE_VALUES.get(scope_value, {}).get(lang, scope_value)
