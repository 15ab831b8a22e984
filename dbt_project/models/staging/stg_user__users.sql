with source as (
    select * from {{ source('user', 'users') }}
),

renamed as (
    select
        user_id,
        registered_at,
        birth_year,
        gender,
        city,
        city_tier,
        acquisition_channel,
        is_pet_owner,
        phone as phone_token,
        id_card_no as id_card_token,
        email as email_token,
        updated_at
    from source
)

select * from renamed
