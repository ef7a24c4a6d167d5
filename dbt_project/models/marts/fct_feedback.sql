{{ user_keyed_incremental() }}

{#- Feedback module: one row per chat with its reviewable answers split by final rating, and the
    chat's class. Ratings of answers that are not reviewable count nowhere. #}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

answers as (

    select * from {{ recomputed_rows(ref('int_events_sessionized')) }} as e
    where event_type = 'bot_message'
        and is_reviewable

),

final_ratings as (

    -- keyed by the answer's owner: the affected users' answers have the rows of this refresh
    select * from {{ recomputed_rows(ref('int_feedback_ratings_finalized')) }} as r

),

rated_answers as (

    select
        answers.session_id,
        final_ratings.final_rating

    from answers
    left join final_ratings
        on answers.assistant_id = final_ratings.assistant_id
            and answers.user_id = final_ratings.user_id
            and answers.message_id = final_ratings.message_id

),

per_chat as (

    select
        session_id,
        count(*) as reviewable,
        count(*) filter (where final_rating = 'positive') as positive,
        count(*) filter (where final_rating = 'negative') as negative,
        count(*) filter (where final_rating is null) as no_feedback

    from rated_answers
    group by session_id

),

joined as (

    select
        {{ chat_key_columns('chats') }},
        coalesce(per_chat.reviewable, 0) as reviewable,
        coalesce(per_chat.positive, 0) as positive,
        coalesce(per_chat.negative, 0) as negative,
        coalesce(per_chat.no_feedback, 0) as no_feedback

    from chats
    left join per_chat on chats.chat_id = per_chat.session_id

),

final as (

    select
        *,
        case
            when positive > 0 and negative = 0 then 'only_positive'
            when negative > 0 and positive = 0 then 'only_negative'
            when positive > 0 and positive > negative then 'more_positive'
            when positive > 0 and positive = negative then 'balanced'
            when negative > 0 and negative > positive then 'more_negative'
            else 'no_feedback'
        end as feedback_class,
        {{ refresh_stamp() }} as refreshed_at

    from joined

)

-- stored in (assistant, local date) order: a filter on both (the report, a BI tool) reads only
-- the row groups whose min/max match, and an incremental refresh appends its rows sorted too
select * from final
order by assistant_id, chat_local_date
