-- Feedback (kpis.md "Feedback": reviewable, positive, negative, no_feedback, chats_by_class).
-- Reads marts.fct_feedback, one row per chat with its final ratings and class.
select
    chat_local_date >= $date_from as is_current,
    sum(reviewable) as reviewable,
    sum(positive) as positive,
    sum(negative) as negative,
    sum(no_feedback) as no_feedback,
    count(*) filter (where feedback_class = 'only_positive') as only_positive,
    count(*) filter (where feedback_class = 'more_positive') as more_positive,
    count(*) filter (where feedback_class = 'balanced') as balanced,
    count(*) filter (where feedback_class = 'more_negative') as more_negative,
    count(*) filter (where feedback_class = 'only_negative') as only_negative,
    count(*) filter (where feedback_class = 'no_feedback') as no_feedback_chats
from marts.fct_feedback
where assistant_id = $assistant
  and chat_local_date between $prev_from and $date_to
  and ($channel is null or channel = $channel)
group by is_current
