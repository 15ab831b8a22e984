-- Merchant NPS per survey quarter (PLAN.md "The rest of the plan"): % of scores 9-10 - % of
-- scores 0-6, in points, over each merchant's latest answer for the quarter, overall and by
-- merchant size as the merchant was when it answered.
with answers as (
    select * from {{ ref('stg_product__merchant_survey') }}
),

merchants as (
    select * from {{ ref('dim_merchants') }}
),

answered as (
    select
        answers.survey_quarter,
        answers.score,
        merchants.merchant_size
    from answers
    left join merchants
        on
            answers.merchant_id = merchants.merchant_id
            and {{ as_of('merchants', 'answers.submitted_at') }}
),

exploded as (
    select
        answered.survey_quarter,
        scope.scope_type,
        scope.scope_value,
        answered.score
    from answered
        lateral view explode(
            filter(
                array(
                    named_struct('scope_type', 'all', 'scope_value', 'all'),
                    named_struct(
                        'scope_type', 'merchant_size', 'scope_value', answered.merchant_size
                    )
                ),
                s -> s.scope_value is not null
            )
        ) as scope
)

select
    survey_quarter as quarter_label,
    scope_type,
    scope_value,
    count(*) as responses,
    count_if(score >= 9) as promoters,
    count_if(score <= 6) as detractors,
    100 * ({{ ratio('count_if(score >= 9) - count_if(score <= 6)', 'count(*)') }}) as nps
from exploded
group by survey_quarter, scope_type, scope_value
