{#- The users a refresh recomputes: every user whose events, first copies or rated answers changed
    since the last completed refresh. Unused by a full rebuild. #}

with

pending_users as (

    select * from {{ ref('stg_platform__pending_users') }}

),

distinct_users as (

    select distinct
        assistant_id,
        user_id,
        -- the stamp of this affected set: the rows recomputed for it carry it (docs/incremental.md)
        {{ run_started_stamp() }} as refreshed_at

    from pending_users

)

select * from distinct_users
