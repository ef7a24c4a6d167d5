{{ config(meta={'dagster': {'ref': {'name': 'fct_handover'}}}) }}
-- kpis.md "Handover": chats_with_requests are the chats with at least one handover_request,
-- chats_without_requests the other chats, so with + without = chats. Per assistant and local day:
-- fct_handover must have exactly one row per chat of dim_chats, has_requests must mean
-- requests > 0, with + without must equal dim_chats' chat count, and the requests must equal the
-- chats' handover_request events (dim_chats.handover_requests and the classified requests that
-- belong to those chats). Returns the assistant-days that disagree. Scope: every figure is a sum
-- over chats, each of one user, so an incremental refresh checks the sums over the affected
-- users' chats, requests and rows (docs/incremental.md).

with

chats as (

    select
        assistant_id,
        chat_local_date,
        count(*) as chats,
        sum(handover_requests) as requests

    from {{ recomputed_rows(ref('dim_chats')) }} as c
    group by assistant_id, chat_local_date

),

handover as (

    select
        assistant_id,
        chat_local_date,
        count(*) as chats,
        count(*) filter (where has_requests) as chats_with_requests,
        count(*) filter (where not has_requests) as chats_without_requests,
        count(*) filter (where has_requests is distinct from (requests > 0)) as inconsistent_rows,
        sum(requests) as requests

    from {{ recomputed_rows(ref('fct_handover')) }} as f
    group by assistant_id, chat_local_date

),

classified as (

    select chats.assistant_id, chats.chat_local_date, count(*) as requests
    from {{ recomputed_rows(ref('int_handover_requests_classified')) }} as requests
    inner join {{ recomputed_rows(ref('dim_chats')) }} as chats on requests.session_id = chats.chat_id
    group by chats.assistant_id, chats.chat_local_date

)

select
    coalesce(chats.assistant_id, handover.assistant_id) as assistant_id,
    coalesce(chats.chat_local_date, handover.chat_local_date) as chat_local_date,
    chats.chats,
    handover.chats as handover_chats,
    handover.chats_with_requests,
    handover.chats_without_requests,
    handover.inconsistent_rows,
    chats.requests as chat_requests,
    handover.requests as handover_requests,
    coalesce(classified.requests, 0) as classified_requests

from chats
full outer join handover
    on chats.assistant_id = handover.assistant_id and chats.chat_local_date = handover.chat_local_date
left join classified
    on classified.assistant_id = coalesce(chats.assistant_id, handover.assistant_id)
        and classified.chat_local_date = coalesce(chats.chat_local_date, handover.chat_local_date)
where chats.chats is distinct from handover.chats
    or handover.chats_with_requests + handover.chats_without_requests <> chats.chats
    or handover.inconsistent_rows > 0
    or handover.requests <> chats.requests
    or handover.requests <> coalesce(classified.requests, 0)
