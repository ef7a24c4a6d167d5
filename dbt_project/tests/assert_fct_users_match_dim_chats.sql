-- kpis.md "Users": active users of a period are counted over fct_users, so it must hold exactly one
-- row per (assistant, channel, user, local date) on which the user started at least one chat in
-- dim_chats, with that number of chats and the user's device fields from dim_users. Returns the
-- expected rows the mart lacks or has different ('missing or different') and the mart's rows
-- nobody expects ('extra or different'); one row per key is fct_users_one_row_per_user_channel_day.
-- Scope: per user, so an incremental refresh checks the affected users' rows (macros/test_scope.sql).
-- Two EXCEPTs (hash anti-joins that spill) rather than one wide full outer join: a full rebuild of
-- 63M events ran out of memory at 3 GB on the join.

with

chats as (

    select * from {{ ref('dim_chats') }} as c
    where {{ in_refresh_scope('c') }}

),

users as (

    select * from {{ ref('dim_users') }} as u
    where {{ in_refresh_scope('u') }}

),

fct_users as (

    select * from {{ ref('fct_users') }} as f
    where {{ in_refresh_scope('f') }}

),

chats_per_user_day as (

    select assistant_id, channel, user_id, chat_local_date, count(*) as chats
    from chats
    group by assistant_id, channel, user_id, chat_local_date

),

expected as (

    select
        chats_per_user_day.assistant_id,
        chats_per_user_day.channel,
        chats_per_user_day.user_id,
        chats_per_user_day.chat_local_date,
        chats_per_user_day.chats,
        users.device_type,
        users.user_agent_device_type,
        users.browser

    from chats_per_user_day
    left join users
        on chats_per_user_day.assistant_id = users.assistant_id
        and chats_per_user_day.user_id = users.user_id

),

actual as (

    select assistant_id, channel, user_id, chat_local_date, chats,
        device_type, user_agent_device_type, browser
    from fct_users

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
