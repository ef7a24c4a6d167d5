{#- The raw line may hold personal text: it stays in raw. Staging keeps where and why. #}

with

rejected as (

    select * from {{ source('platform', 'rejected_lines') }}

),

renamed as (

    select
        export_date,
        file_name,
        line_number,
        reason,
        split_part(reason, ':', 1) as reason_kind

    from rejected

)

select * from renamed
