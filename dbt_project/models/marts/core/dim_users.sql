-- Users with their profile history (SCD2 from the sources' updated_at): city tier and pet
-- ownership as they were at any instant. Gen-Z is fixed by birth year; age-based segments
-- (silver, 60+) depend on the date and are derived where a KPI is keyed.
with history as (
    select
        versions.*,
        {{ scd2_columns('user_id') }}
    from {{ ref('stg_user__users_history') }} as versions
),

final as (
    select
        concat(user_id, '#', cast(version_no as string)) as user_version_key,
        user_id,
        version_no,
        valid_from,
        valid_to,
        is_current,
        registered_at,
        birth_year,
        birth_year between 1995 and 2009 as is_gen_z,
        gender,
        city,
        city_tier,
        city_tier in ('tier3', 'tier4', 'tier5') as is_lower_tier_city,
        acquisition_channel as declared_acquisition_channel,
        is_pet_owner,
        updated_at
    from history
)

select * from final
