{{ user_keyed_incremental() }}

{#- Engagement module, at user x channel x local day grain, with the local date of the user's first
    chat overall and in this channel: a user active in [from, to] is new when that date is in the
    period and returning when it is before. The same rows as fct_users (which computes them once),
    narrowed to the module's columns. #}

with

user_days as (

    select * from {{ recomputed_rows(ref('fct_users')) }} as f

),

final as (

    select
        assistant_id,
        channel,
        user_id,
        chat_local_date,
        chats,
        first_chat_local_date,
        first_chat_local_date_in_channel,
        {{ refresh_stamp() }} as refreshed_at

    from user_days

)

-- stored in (assistant, local date) order: a filter on both (the report, a BI tool) reads only
-- the row groups whose min/max match, and an incremental refresh appends its rows sorted too
select * from final
order by assistant_id, chat_local_date
