{#- Every loaded copy of every event (raw.events), its type-specific properties extracted into
    typed columns (macros/platform_event_columns.sql, which int_events_deduplicated applies to the
    copies it keeps). Renames and casts only: which copy counts is int_events_deduplicated's job. #}

with

raw_events as (

    select * from {{ source('platform', 'events') }}

),

renamed as (

    select
        {{ platform_event_columns() }}

    from raw_events

)

select * from renamed
