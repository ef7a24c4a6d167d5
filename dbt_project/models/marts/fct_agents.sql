{{ user_keyed_incremental() }}

{#- Agents/Workflows module: per chat and agent_id, views (agent_triggered events) and the final
    ratings of reviewable answers that agent produced. Names and kinds live in dim_agents. #}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

agent_events as (

    select * from {{ recomputed_rows(ref('int_events_sessionized')) }} as e
    where agent_id is not null
        and (event_type = 'agent_triggered' or (event_type = 'bot_message' and is_reviewable))

),

final_ratings as (

    -- keyed by the answer's owner: the affected users' answers have the rows of this refresh;
    -- a retracted (null) rating counts nowhere, so it is left out of the join
    select assistant_id, user_id, message_id, final_rating
    from {{ recomputed_rows(ref('int_feedback_ratings_finalized')) }} as r
    where final_rating is not null

),

rated as (

    select
        agent_events.session_id,
        agent_events.agent_id,
        agent_events.event_type,
        final_ratings.final_rating

    from agent_events
    left join final_ratings
        on agent_events.event_type = 'bot_message'
            and agent_events.assistant_id = final_ratings.assistant_id
            and agent_events.user_id = final_ratings.user_id
            and agent_events.message_id = final_ratings.message_id

),

final as (

    select
        {{ chat_key_columns('chats') }},
        rated.agent_id,
        count(*) filter (where rated.event_type = 'agent_triggered') as views,
        count(*) filter (where rated.final_rating = 'positive') as positive,
        count(*) filter (where rated.final_rating = 'negative') as negative,
        {{ refresh_stamp() }} as refreshed_at

    from rated
    inner join chats on rated.session_id = chats.chat_id
    group by 1, 2, 3, 4, 5, 6
    having views > 0 or positive > 0 or negative > 0

)

-- an incremental refresh appends its rows in (assistant, local date) order: a filter on both (the
-- report, a BI tool) reads only the row groups whose min/max match. A full build does not sort:
-- sorting every row on top of the two joins ran out of memory under the default memory limit.
select * from final
{% if is_incremental() %}
    order by assistant_id, chat_local_date
{% endif %}
