-- kpis.md "Engagement": new and returning users of a period come from fct_engagement, so it must
-- hold exactly the rows of fct_users (one per assistant, channel, user and local date with a chat
-- in dim_chats) with their chats and first chat dates; assert_fct_users_match_dim_chats checks
-- those against dim_chats and dim_users, so together they tie fct_engagement to the definition.
-- Returns the rows missing from or extra in the mart (macros/rows_missing_or_extra.sql). Scope:
-- per user, so an incremental refresh checks the affected users' rows (docs/incremental.md).

with

fct_users as (

    select * from {{ recomputed_rows(ref('fct_users')) }} as u

),

fct_engagement as (

    select * from {{ recomputed_rows(ref('fct_engagement')) }} as f

),

expected as (

    select
        assistant_id, channel, user_id, chat_local_date, chats,
        first_chat_local_date, first_chat_local_date_in_channel
    from fct_users

),

actual as (

    select
        assistant_id, channel, user_id, chat_local_date, chats,
        first_chat_local_date, first_chat_local_date_in_channel
    from fct_engagement

),

final as (

    {{ rows_missing_or_extra('expected', 'actual') }}

)

select * from final
