{#- The final rating of each answer: the value of its latest feedback event by (occurred_at, event_id),
    wherever and whenever it came; null when the latest one retracted the rating. Rebuilt each run:
    feedback is a small share of events and any user's feedback can rate any answer. #}

with

feedback as (

    select * from {{ ref('stg_platform__events') }}
    where event_type = 'feedback'

),

final as (

    -- arg_max_null, not arg_max: a latest feedback with a null value (a retraction) must win;
    -- one aggregate pass over (occurred_at, event_id) instead of a sorted window
    select
        assistant_id,
        message_id,
        arg_max_null(feedback_value, struct_pack(occurred_at := occurred_at, event_id := event_id))
            as final_rating,
        max(occurred_at) as last_rated_at,
        count(*) as feedback_events

    from feedback
    group by assistant_id, message_id

)

select * from final
