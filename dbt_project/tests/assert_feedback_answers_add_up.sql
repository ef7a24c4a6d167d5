-- kpis.md "Feedback": per chat, positive + negative + no_feedback = reviewable (every reviewable
-- answer has exactly one final state: a final rating other than positive, negative or none breaks
-- it, and the accepted_values test that also rules it out runs on full rebuilds only), and
-- feedback_class follows from the counts: no_feedback when nothing is rated, only_positive /
-- only_negative when one side is 0, else more_positive / balanced / more_negative by comparing
-- positive and negative.
-- Returns the fct_feedback rows that break this. Scope: per chat, so an incremental refresh
-- checks the affected users' chats (docs/incremental.md).

with

feedback as (

    select
        *,
        case
            when positive = 0 and negative = 0 then 'no_feedback'
            when negative = 0 then 'only_positive'
            when positive = 0 then 'only_negative'
            when positive > negative then 'more_positive'
            when positive < negative then 'more_negative'
            else 'balanced'
        end as expected_feedback_class

    from {{ recomputed_rows(ref('fct_feedback')) }} as f

)

select * from feedback
where positive + negative + no_feedback <> reviewable
    or feedback_class is distinct from expected_feedback_class
