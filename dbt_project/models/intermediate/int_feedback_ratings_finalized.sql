{#- The final rating of each answer: the value of its latest feedback event by (occurred_at, event_id),
    wherever and whenever it came; null when the latest one retracted the rating. Rebuilt each run:
    feedback is a small share of events and any user's feedback can rate any answer. #}

with

feedback as (

    select * from {{ ref('stg_platform__events') }}
    where event_type = 'feedback'

),

ranked as (

    select
        assistant_id,
        message_id,
        feedback_value,
        occurred_at,
        row_number() over (
            partition by assistant_id, message_id
            order by occurred_at desc, event_id desc
        ) as recency_rank,
        count(*) over (partition by assistant_id, message_id) as feedback_events

    from feedback

),

final as (

    select
        assistant_id,
        message_id,
        feedback_value as final_rating,
        occurred_at as last_rated_at,
        feedback_events

    from ranked
    where recency_rank = 1

)

select * from final
