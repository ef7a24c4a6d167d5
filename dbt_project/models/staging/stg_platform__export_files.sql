with

export_files as (

    select * from {{ source('platform', 'export_files') }}

),

renamed as (

    select
        export_date,
        file_name,
        size_bytes,
        lines_read,
        damage,
        damage is not null as is_damaged

    from export_files

)

select * from renamed
