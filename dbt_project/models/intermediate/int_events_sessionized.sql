{{ user_keyed_incremental() }}

{#- Sessionization (kpis.md "Chats"): events of a known type except feedback, per conversation,
    ordered by (occurred_at, event_id); a new session starts at the first event and after every gap
    longer than the channel's inactivity timeout (none for voice; 30 minutes for an unlisted channel). #}

with

events as (

    select * from {{ recomputed_rows(ref('int_events_deduplicated')) }} as e
    where is_known_type
        and event_type <> 'feedback'

),

-- The same events again, only the columns that sessionization sorts: the window functions below
-- sort every row they carry, so they run on this narrow copy and the result is joined back by
-- event_id (unique in staging). A second import, not a second read of `events`: DuckDB would
-- materialize a CTE read twice. Sorting narrow rows costs a fraction of sorting whole ones.
event_keys as (

    select assistant_id, channel, user_id, conversation_id, occurred_at, event_id
    from {{ recomputed_rows(ref('int_events_deduplicated')) }} as e
    where is_known_type
        and event_type <> 'feedback'

),

assistants as (

    select * from {{ ref('assistants') }}

),

channels as (

    select * from {{ ref('channels') }}

),

with_timeouts as (

    select
        event_keys.*,
        case
            when channels.channel is null then 30
            else channels.inactivity_timeout_minutes
        end as timeout_minutes

    from event_keys
    left join channels on event_keys.channel = channels.channel

),

with_previous as (

    select
        *,
        lag(occurred_at) over (
            partition by assistant_id, channel, user_id, conversation_id
            order by occurred_at, event_id
        ) as previous_occurred_at

    from with_timeouts

),

flagged as (

    select
        *,
        -- exact microseconds (an epoch difference: dbt.datediff's date_diff is much slower here)
        previous_occurred_at is null
        or (
            timeout_minutes is not null
            and {{ epoch_microseconds('occurred_at') }} - {{ epoch_microseconds('previous_occurred_at') }}
            > cast(timeout_minutes as bigint) * 60 * 1000000
        ) as is_session_start

    from with_previous

),

session_starts as (

    select
        event_id,
        -- the latest session start at or before this event, in the same sort as the lag above
        {{ last_value_ignore_nulls('case when is_session_start then event_id end') }} over (
            partition by assistant_id, channel, user_id, conversation_id
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as session_first_event_id

    from flagged

),

final as (

    select
        {{ derived_id([
            'events.assistant_id', 'events.channel', 'events.user_id', 'events.conversation_id',
            'session_starts.session_first_event_id'
        ]) }} as session_id,
        session_starts.session_first_event_id,
        events.event_id,
        events.event_type,
        events.occurred_at,
        {{ local_timestamp('events.occurred_at', "coalesce(assistants.timezone, 'UTC')") }} as occurred_local_at,
        cast({{ local_timestamp('events.occurred_at', "coalesce(assistants.timezone, 'UTC')") }} as date)
            as occurred_local_date,
        coalesce(assistants.timezone, 'UTC') as timezone,
        events.assistant_id,
        events.channel,
        events.user_id,
        events.conversation_id,
        events.user_agent,
        events.message_id,
        events.is_reviewable,
        events.is_fallback,
        events.agent_id,
        events.handover_via,
        events.handover_mode,
        events.csat_score,
        events.click_type,
        events.click_title,
        events.click_destination_type,
        events.click_destination,
        {{ refresh_stamp() }} as refreshed_at

    from events
    inner join session_starts on events.event_id = session_starts.event_id
    left join assistants on events.assistant_id = assistants.assistant_id

)

select * from final
