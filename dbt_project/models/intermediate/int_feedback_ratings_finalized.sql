{{ user_keyed_incremental() }}

{#- The final rating of each rated answer: the value of its latest feedback event by
    (occurred_at, event_id), wherever and whenever it came; null when the latest one retracted the
    rating. Keyed by the answer's owner (the user of its bot_message), so a refresh recomputes the
    answers of the affected users only: the loader marks the owner of every answer rated by any
    copy of a loaded feedback event, before and after the load, so an unaffected owner's answers
    kept their feedback. The feedback itself is read from every user: it may rate another user's
    answer. #}

with

answers as (

    select distinct assistant_id, user_id, message_id
    from {{ recomputed_rows(ref('int_events_deduplicated')) }} as a
    where event_type = 'bot_message'

),

feedback as (

    select f.*
    from {{ ref('int_events_deduplicated') }} as f
    {{ semi_join() }} answers on f.assistant_id = answers.assistant_id and f.message_id = answers.message_id
    where f.event_type = 'feedback'

),

final as (

    -- nulls_win: a latest feedback with a null value (a retraction) must win; one aggregate pass
    -- over (occurred_at, event_id) instead of a sorted window
    select
        answers.assistant_id,
        answers.user_id,
        answers.message_id,
        {{ arg_max_by('feedback.feedback_value', ['feedback.occurred_at', 'feedback.event_id'], nulls_win=true) }}
            as final_rating,
        max(feedback.occurred_at) as last_rated_at,
        count(*) as feedback_events,
        {{ refresh_stamp() }} as refreshed_at

    from answers
    inner join feedback
        on answers.assistant_id = feedback.assistant_id and answers.message_id = feedback.message_id
    group by answers.assistant_id, answers.user_id, answers.message_id

)

select * from final
