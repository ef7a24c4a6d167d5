{{ user_keyed_incremental() }}

{#- kpis.md "Ground rules" 1: the first copy of each event_id (by export day, file name, line
    number) wins, across all days. Incrementally, every copy of an event that has a copy of a
    recomputed user is re-ranked: a re-delivered day can move a first copy, and the loader marks the
    users of all copies as affected.
    The copies are ranked on their keys and positions alone (the staging view's plain columns, so
    the view extracts nothing here), and the properties of the kept first copies only are extracted
    from their raw rows, with the staging view's own columns (platform_event_columns). Selecting the
    whole view would extract every loaded copy's properties on every refresh: DuckDB does not push
    the filter on the recomputed events below the view's projection. #}

with

copies as (

    select
        staged.event_id, staged.assistant_id, staged.user_id,
        staged.export_date, staged.file_name, staged.line_number,
        -- whether the copy itself is of a recomputed user, from a join with the affected users:
        -- first_copies then needs no second join with the ranked copies (DuckDB built that one on
        -- the ranked copies and, with the join to raw below, ran out of memory on large backfills;
        -- docs/benchmark.md, "2026-12-03, later")
        {% if is_incremental() -%}
            affected.user_id is not null
        {%- else -%}
            true
        {%- endif %} as is_of_recomputed_user

    from {{ ref('stg_platform__events') }} as staged
    {% if is_incremental() %}
        left join {{ ref('int_users_affected') }} as affected
            on staged.assistant_id = affected.assistant_id
                and staged.user_id = affected.user_id
        where staged.event_id in (
                select event_id from {{ recomputed_rows(ref('stg_platform__events')) }} as of_recomputed_users
            )
    {% endif %}

),

ranked as (

    select
        *,
        row_number() over (
            partition by event_id
            order by export_date, file_name, line_number
        ) as copy_number

    from copies

),

first_copies as (

    select export_date, file_name, line_number
    from ranked
    where copy_number = 1
        and is_of_recomputed_user

),

raw_events as (

    select * from {{ source('platform', 'events') }}

),

kept_raw_events as (

    -- a position is one export line: exactly one raw row
    select raw_events.*
    from raw_events
    inner join first_copies
        on raw_events.export_date = first_copies.export_date
            and raw_events.file_name = first_copies.file_name
            and raw_events.line_number = first_copies.line_number

),

final as (

    select
        {{ platform_event_columns() }},
        {{ refresh_stamp() }} as refreshed_at

    from kept_raw_events

)

select * from final
