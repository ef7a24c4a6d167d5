{{ user_keyed_incremental_config() }}
-- depends_on: {{ ref('int_users_affected') }}

{#- Engagement module, at user x channel x local day grain, with the local date of the user's first
    chat overall and in this channel: a user active in [from, to] is new when that date is in the
    period and returning when it is before. #}

with

chats as (

    select * from {{ ref('dim_chats') }} as c
    where {{ only_affected_users('c') }}

),

user_days as (

    select
        assistant_id,
        channel,
        user_id,
        chat_local_date,
        count(*) as chats

    from chats
    group by assistant_id, channel, user_id, chat_local_date

),

final as (

    select
        *,
        min(chat_local_date) over (partition by assistant_id, user_id) as first_chat_local_date,
        min(chat_local_date) over (partition by assistant_id, user_id, channel)
            as first_chat_local_date_in_channel

    from user_days

)

-- stored in (assistant, local date) order: a filter on both (the report, a BI tool) reads only
-- the row groups whose min/max match, and an incremental refresh appends its rows sorted too
select * from final
order by assistant_id, chat_local_date
