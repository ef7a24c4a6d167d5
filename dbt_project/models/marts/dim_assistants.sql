{#- Every assistant: those in the assistants seed, and those seen only in the exports (reported in
    UTC and flagged, as interfaces.md says). -#}

with

assistants as (

    select * from {{ ref('assistants') }}

),

seen as (

    select distinct assistant_id from {{ ref('int_events_deduplicated') }}

),

final as (

    select
        coalesce(assistants.assistant_id, seen.assistant_id) as assistant_id,
        assistants.name as assistant_name,
        coalesce(assistants.timezone, 'UTC') as timezone,
        assistants.assistant_id is not null as is_in_seed,
        seen.assistant_id is not null as has_events

    from assistants
    full outer join seen on assistants.assistant_id = seen.assistant_id

)

select * from final
