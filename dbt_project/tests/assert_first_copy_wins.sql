{{ config(meta={'dagster': {'ref': {'name': 'int_events_deduplicated'}}}) }}
-- kpis.md "Ground rules" 1: of several events with the same event_id only the first copy counts,
-- the first by export day, then file name, then line number. Returns the staged events that are
-- no loaded copy (no copy in raw has their position and content), those that have an earlier
-- copy, and the first copies loaded in raw that staging lost. Joins of the staged rows with raw's
-- copies on event_id and a comparison of positions (export_date, then file_name, then line_number),
-- not int_events_deduplicated's row_number() window (nor an aggregate over the copies, which cost
-- several times more at 3M events a day). Positions compare field by field (export_position_before).
-- The copies staging has no row of are ranked by position to find their first ones: few rows, but
-- all the copies of an event delivered tens of thousands of times, which a comparison of pairs
-- could not hold in memory.
-- raw's copies are imported twice, for the two steps that read them: DuckDB keeps a CTE that is read
-- more than once whole in memory, and spilled it to disk at large volumes.
-- Scope: per event_id. An incremental refresh looks at every copy of the events that have a copy
-- of an affected user (a user affected for another reason may hold a later copy of an event whose
-- first copy belongs to an unaffected user, so copies are not narrowed by user), and compares them
-- with the staged rows of this refresh (its stamp, docs/incremental.md). A first copy of an
-- unaffected user is left out: the loader marks the users of every copy of a loaded event, so no
-- copy of it changed and its staged row is the one tested when it was built.

-- The linter lays out each variant of the jinja conditionals below on its own: no layout rules there
-- noqa: disable=LT02,LT14
{#- raw's copies in scope, imported twice below (copies, copies_again) -#}
{% set copies_in_scope %}
    select
        event_id, export_date, file_name, line_number,
        event_type, occurred_at, assistant_id, channel, user_id, conversation_id

    from {{ source('platform', 'events') }}
    {% if recomputing_some_users_only() %}
    where event_id in (select event_id from event_ids_in_scope)
    {% endif %}
{% endset %}

with

{% if recomputing_some_users_only() %}
event_ids_in_scope as (

    select r.event_id
    from {{ recomputed_rows(source('platform', 'events')) }} as r

),
{% endif %}

copies as (
{{ copies_in_scope }}
),

copies_again as (
{{ copies_in_scope }}
),

-- noqa: enable=LT02,LT14
staged as (

    select
        event_id, export_date, file_name, line_number,
        event_type, occurred_at, assistant_id, channel, user_id, conversation_id

    from {{ recomputed_rows(ref('int_events_deduplicated')) }} as s

),

not_first_or_not_loaded as (

    -- each staged row with the copies of its event at or before its position: a row with none
    -- (no copy is there), with an earlier copy, or with the copy at its position but other content
    -- breaks the rule. Positions are unique (one export line each), so one copy can match exactly.
    select 'not the first copy, or no loaded copy' as problem, staged.*
    from staged
    left join copies
        on staged.event_id = copies.event_id
            and {{ export_position_before('copies', 'staged', or_same=true) }}
    where copies.event_id is null
        or copies.export_date <> staged.export_date
        or copies.file_name <> staged.file_name
        or copies.line_number <> staged.line_number
        or copies.event_type <> staged.event_type
        or copies.occurred_at <> staged.occurred_at
        or copies.assistant_id <> staged.assistant_id
        or copies.channel <> staged.channel
        or copies.user_id <> staged.user_id
        or copies.conversation_id <> staged.conversation_id

),

unstaged_copies as (

    -- the copies of the events staging has no row of (none when staging is right)
    select * from copies_again
    where not exists (
            select 1 from staged
            where staged.event_id = copies_again.event_id
        )

),

unstaged_copies_ranked as (

    -- each copy's place among the copies of its event, by export position. Ranked, not compared
    -- with every earlier copy: an incremental refresh holds every copy of an event whose first copy
    -- is an unaffected user's, and a pairwise comparison of one event_id delivered tens of thousands
    -- of times ran out of memory.
    select
        *,
        row_number() over (
            partition by event_id order by export_date, file_name, line_number
        ) as copy_rank
    from unstaged_copies

),

lost_first_copies as (

    -- of those, the first copies. Only a first copy of a recomputed user must have a row of this
    -- refresh (the user filter on these few rows: at a first build every user is affected)
    select
        'lost by staging' as problem,
        lost.event_id, lost.export_date, lost.file_name, lost.line_number,
        lost.event_type, lost.occurred_at, lost.assistant_id, lost.channel, lost.user_id, lost.conversation_id
    from unstaged_copies_ranked as lost
    where lost.copy_rank = 1
        {% if recomputing_some_users_only() %}and {{ is_affected_user('lost') }}{% endif %}

)

select * from not_first_or_not_loaded
union all
select * from lost_first_copies
