with

pending_users as (

    select * from {{ source('platform', 'pending_users') }}

),

renamed as (

    select
        export_date,
        assistant_id,
        user_id

    from pending_users

)

select * from renamed
