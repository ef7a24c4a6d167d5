{{ user_keyed_incremental_config() }}
-- depends_on: {{ ref('int_users_affected') }}

{#- Sessionization (kpis.md "Chats"): events of a known type except feedback, per conversation,
    ordered by (occurred_at, event_id); a new session starts at the first event and after every gap
    longer than the channel's inactivity timeout (none for voice; 30 minutes for an unlisted channel). #}

with

events as (

    select * from {{ ref('stg_platform__events') }} as e
    where is_known_type
        and event_type <> 'feedback'
        and {{ only_affected_users('e') }}

),

assistants as (

    select * from {{ ref('assistants') }}

),

channels as (

    select * from {{ ref('channels') }}

),

with_settings as (

    select
        events.*,
        coalesce(assistants.timezone, 'UTC') as timezone,
        case
            when channels.channel is null then 30
            else channels.inactivity_timeout_minutes
        end as timeout_minutes

    from events
    left join assistants on events.assistant_id = assistants.assistant_id
    left join channels on events.channel = channels.channel

),

with_previous as (

    select
        *,
        lag(occurred_at) over (
            partition by assistant_id, channel, user_id, conversation_id
            order by occurred_at, event_id
        ) as previous_occurred_at

    from with_settings

),

flagged as (

    select
        *,
        case
            when previous_occurred_at is null then 1
            when timeout_minutes is not null
                and {{ dbt.datediff('previous_occurred_at', 'occurred_at', 'microsecond') }}
                    > cast(timeout_minutes as bigint) * 60 * 1000000 then 1
            else 0
        end as is_session_start

    from with_previous

),

numbered as (

    select
        *,
        sum(is_session_start) over (
            partition by assistant_id, channel, user_id, conversation_id
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as session_number

    from flagged

),

with_first_event as (

    select
        *,
        first_value(event_id) over (
            partition by assistant_id, channel, user_id, conversation_id, session_number
            order by occurred_at, event_id
            rows between unbounded preceding and unbounded following
        ) as session_first_event_id

    from numbered

),

final as (

    select
        md5(concat_ws('|', assistant_id, channel, user_id, conversation_id, session_first_event_id))
            as session_id,
        session_first_event_id,
        event_id,
        event_type,
        occurred_at,
        timezone(timezone, occurred_at) as occurred_local_at,
        cast(timezone(timezone, occurred_at) as date) as occurred_local_date,
        timezone,
        assistant_id,
        channel,
        user_id,
        conversation_id,
        user_agent,
        message_id,
        is_reviewable,
        is_fallback,
        agent_id,
        handover_via,
        handover_mode,
        csat_score,
        click_type,
        click_title,
        click_destination_type,
        click_destination

    from with_first_event

)

select * from final
