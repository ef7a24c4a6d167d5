{{ user_keyed_incremental_config() }}
-- depends_on: {{ ref('int_users_affected') }}

{#- The first copy of each event_id (by export day, file name, line number) wins, across all days.
    Incrementally, every copy of an affected user's events is re-ranked: a re-delivered day can move
    a first copy, and the loader marks the users of all copies as affected. #}

with

raw_events as (

    select * from {{ source('platform', 'events') }}

),

candidates as (

    select * from raw_events
    {% if is_incremental() %}
    -- the source again, not the raw_events CTE: DuckDB would materialize a CTE read twice, i.e.
    -- copy the whole history, properties and all, on every refresh
    where event_id in (
        select r.event_id from {{ source('platform', 'events') }} as r where {{ only_affected_users_by_key('r') }}
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

    select * from ranked as r
    where copy_number = 1 and {{ only_affected_users_by_key('r') }}

),

renamed as (

    select
        event_id,
        event_type,
        event_type in (
            'user_message', 'bot_message', 'operator_message', 'handover_request',
            'feedback', 'csat', 'click', 'agent_triggered'
        ) as is_known_type,
        occurred_at,
        assistant_id,
        channel,
        user_id,
        conversation_id,
        nullif(user_agent, '') as user_agent,

        case when event_type in ('user_message', 'bot_message', 'operator_message', 'feedback')
            then properties ->> '$.message_id' end as message_id,
        case when event_type = 'user_message'
            then properties ->> '$.input' end as input_mode,
        case when event_type = 'bot_message'
            then coalesce(cast(properties ->> '$.reviewable' as boolean), false) end as is_reviewable,
        case when event_type = 'bot_message'
            then coalesce(cast(properties ->> '$.is_fallback' as boolean), false) end as is_fallback,
        case when event_type in ('bot_message', 'agent_triggered')
            then properties ->> '$.agent_id' end as agent_id,
        case when event_type in ('bot_message', 'agent_triggered')
            then properties ->> '$.agent_name' end as agent_name,
        case when event_type in ('bot_message', 'agent_triggered')
            then properties ->> '$.agent_kind' end as agent_kind,
        case when event_type = 'handover_request'
            then properties ->> '$.via' end as handover_via,
        case when event_type = 'handover_request'
            then properties ->> '$.mode' end as handover_mode,
        case when event_type = 'feedback'
            then properties ->> '$.value' end as feedback_value,
        case when event_type = 'csat'
            then cast(properties ->> '$.score' as integer) end as csat_score,
        case when event_type = 'click'
            then properties ->> '$.click_type' end as click_type,
        case when event_type = 'click'
            then properties ->> '$.title' end as click_title,
        case when event_type = 'click'
            then properties ->> '$.destination_type' end as click_destination_type,
        case when event_type = 'click'
            then properties ->> '$.destination' end as click_destination,

        export_date,
        file_name,
        line_number,
        {{ refresh_stamp() }} as refreshed_at

    from first_copies

)

select * from renamed
