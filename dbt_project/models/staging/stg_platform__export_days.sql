with

export_days as (

    select * from {{ source('platform', 'export_days') }}

),

renamed as (

    select
        export_date,
        files as file_count,
        lines_read,
        fingerprint,
        loaded_at

    from export_days

)

select * from renamed
