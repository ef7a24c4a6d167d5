-- kpis.md "Engagement": returning_rate = returning users / active users, null when there is no
-- active user, so it lies in [0, 1]. Computed per assistant and local day from fct_engagement as
-- an analyst would; returns the assistant-days where the rate is outside [0, 1] or where it is
-- null although there are active users. Scope: active and returning users are counted user by
-- user, so an incremental refresh checks the affected users (docs/incremental.md).

with

active_users as (

    select
        assistant_id,
        chat_local_date,
        user_id,
        min(first_chat_local_date) as first_chat_local_date

    from {{ recomputed_rows(ref('fct_engagement')) }} as e
    group by assistant_id, chat_local_date, user_id

),

counted as (

    select
        assistant_id,
        chat_local_date,
        count(*) as active_users,
        count(*) filter (where first_chat_local_date < chat_local_date) as returning_users

    from active_users
    group by assistant_id, chat_local_date

),

rates as (

    select *, returning_users / nullif(active_users, 0) as returning_rate
    from counted

)

select * from rates
where returning_rate is null
    or returning_rate < 0
    or returning_rate > 1
