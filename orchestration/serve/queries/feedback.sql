-- Feedback (kpis.md "Feedback": reviewable, positive, negative, no_feedback, chats_by_class).
-- Reads marts.fct_chats_daily, fct_feedback (final ratings and class of each chat) summed per
-- channel and local start date.
select
    chat_local_date >= $date_from as is_current,
    sum(reviewable) as reviewable,
    sum(positive) as positive,
    sum(negative) as negative,
    sum(no_feedback) as no_feedback,
    sum(only_positive_chats) as only_positive,
    sum(more_positive_chats) as more_positive,
    sum(balanced_chats) as balanced,
    sum(more_negative_chats) as more_negative,
    sum(only_negative_chats) as only_negative,
    sum(no_feedback_chats) as no_feedback_chats
from marts.fct_chats_daily
where assistant_id = $assistant
    and chat_local_date between $prev_from and $date_to
    and ($channel is null or channel = $channel)
group by is_current
