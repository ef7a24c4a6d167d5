-- kpis.md "Engagement": new and returning users of a period come from fct_engagement, so it must
-- hold exactly one row per (assistant, channel, user, local date) on which the user started at
-- least one chat in dim_chats, with that number of chats, the user's first chat date overall
-- (dim_users) and the earliest chat date in that channel. Returns the expected rows the mart lacks
-- or has different ('missing or different') and the mart's rows nobody expects ('extra or
-- different'); one row per key is fct_engagement_one_row_per_user_channel_day. Scope: per user, so
-- an incremental refresh checks the affected users' rows (macros/test_scope.sql). Aggregates and
-- EXCEPTs, which spill, rather than a window and a wide full outer join (out of memory at 3 GB
-- on 63M events).

with

chats as (

    select * from {{ ref('dim_chats') }} as c
    where {{ in_refresh_scope('c') }}

),

users as (

    select * from {{ ref('dim_users') }} as u
    where {{ in_refresh_scope('u') }}

),

fct_engagement as (

    select * from {{ ref('fct_engagement') }} as f
    where {{ in_refresh_scope('f') }}

),

chats_per_user_day as (

    select assistant_id, channel, user_id, chat_local_date, count(*) as chats
    from chats
    group by assistant_id, channel, user_id, chat_local_date

),

first_chat_per_user_channel as (

    select assistant_id, channel, user_id, min(chat_local_date) as first_chat_local_date_in_channel
    from chats_per_user_day
    group by assistant_id, channel, user_id

),

expected as (

    select
        chats_per_user_day.assistant_id,
        chats_per_user_day.channel,
        chats_per_user_day.user_id,
        chats_per_user_day.chat_local_date,
        chats_per_user_day.chats,
        users.first_chat_local_date,
        first_chat_per_user_channel.first_chat_local_date_in_channel

    from chats_per_user_day
    left join users
        on chats_per_user_day.assistant_id = users.assistant_id
        and chats_per_user_day.user_id = users.user_id
    left join first_chat_per_user_channel
        on chats_per_user_day.assistant_id = first_chat_per_user_channel.assistant_id
        and chats_per_user_day.channel = first_chat_per_user_channel.channel
        and chats_per_user_day.user_id = first_chat_per_user_channel.user_id

),

actual as (

    select assistant_id, channel, user_id, chat_local_date, chats,
        first_chat_local_date, first_chat_local_date_in_channel
    from fct_engagement

),

missing_or_different as (

    select * from expected
    except
    select * from actual

),

extra_or_different as (

    select * from actual
    except
    select * from expected

),

final as (

    select 'missing or different' as problem, * from missing_or_different
    union all
    select 'extra or different' as problem, * from extra_or_different

)

select * from final
