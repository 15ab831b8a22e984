with source as (
    select * from {{ source('user', 'users') }}
),

renamed as (
    select
        {{ staging_columns('users') }}
    from source
)

select * from renamed
