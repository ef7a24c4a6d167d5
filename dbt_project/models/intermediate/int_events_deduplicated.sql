{{ user_keyed_incremental() }}

{#- kpis.md "Ground rules" 1: the first copy of each event_id (by export day, file name, line
    number) wins, across all days. Incrementally, every copy of an event that has a copy of a
    recomputed user is re-ranked: a re-delivered day can move a first copy, and the loader marks the
    users of all copies as affected. #}

with

events as (

    select * from {{ ref('stg_platform__events') }}

),

candidates as (

    select * from events
    {% if is_incremental() %}
    -- the view again, not the events CTE: DuckDB would materialize a CTE read twice, i.e. copy the
    -- whole history on every refresh
        where event_id in (
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

    from candidates

),

first_copies as (

    select {{ star_except(['copy_number']) }} from ranked
    where copy_number = 1

),

final as (

    select
        *,
        {{ refresh_stamp() }} as refreshed_at

    from {{ recomputed_rows('first_copies') }} as of_recomputed_users

)

select * from final
