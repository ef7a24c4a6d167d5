-- kpis.md "Ground rules" 1: of several events with the same event_id only the first copy counts,
-- the first by export day, then file name, then line number. Returns the staged events that are
-- not the first copy (or whose content differs from it) and the event_ids loaded in raw that
-- staging lost. The first copy is the minimum of the copies' (export_date, file_name,
-- line_number), an aggregate, not int_events_deduplicated's row_number() window.
-- Scope: per event_id. An incremental refresh looks at every copy of the events that have a copy
-- of an affected user (a user affected for another reason may hold a later copy of an event whose
-- first copy belongs to an unaffected user, so copies are not narrowed by user), and compares the
-- first copies of affected users with the staged rows of this refresh (its stamp,
-- docs/incremental.md). A first copy of an unaffected user is left out: the loader marks the
-- users of every copy of a loaded event, so no copy of it changed and its staged row is the one
-- tested when it was built.

-- The linter lays out each variant of the jinja conditionals below on its own: no layout rules there
-- noqa: disable=LT02,LT14
with

{% if recomputing_some_users_only() %}
event_ids_in_scope as (

    select distinct r.event_id
    from {{ recomputed_rows(source('platform', 'events')) }} as r

),
{% endif %}

copies as (

    select
        event_id,
        struct_pack(export_date := export_date, file_name := file_name, line_number := line_number)
            as position,
        struct_pack(
            event_type := event_type, occurred_at := occurred_at, assistant_id := assistant_id,
            channel := channel, user_id := user_id, conversation_id := conversation_id
        ) as envelope

    from {{ source('platform', 'events') }}
    {% if recomputing_some_users_only() %}
    where event_id in (select event_id from event_ids_in_scope)
    {% endif %}

),

-- noqa: enable=LT02,LT14
first_positions as (

    -- per event_id, the smallest position (export_date, file_name, line_number) and that copy's
    -- envelope: one aggregate, where int_events_deduplicated ranks the copies with a window
    select
        event_id,
        min(position) as position,
        arg_min(envelope, position) as envelope

    from copies
    group by event_id

),

first_copies as (

    -- the two structs unpacked into columns
    select event_id, unnest(position), unnest(envelope)
    from first_positions

),

staged as (

    select * from {{ recomputed_rows(ref('int_events_deduplicated')) }} as s

)

select
    coalesce(first_copies.event_id, staged.event_id) as event_id,
    first_copies.export_date as first_export_date,
    first_copies.file_name as first_file_name,
    first_copies.line_number as first_line_number,
    staged.export_date,
    staged.file_name,
    staged.line_number

from first_copies
full outer join staged on first_copies.event_id = staged.event_id
where first_copies.event_id is null
    -- staging lost it: only a first copy of a recomputed user must have a row of this refresh (the
    -- user filter on these few rows, not before the join: at a first build every user is affected,
    -- and the filter before the join ran out of memory at 3GB on 9M events)
    or (
        staged.event_id is null
        {% if recomputing_some_users_only() %}and {{ is_affected_user('first_copies') }}{% endif %}
    )
    or staged.export_date <> first_copies.export_date
    or staged.file_name <> first_copies.file_name
    or staged.line_number <> first_copies.line_number
    or staged.event_type <> first_copies.event_type
    or staged.occurred_at <> first_copies.occurred_at
    or staged.assistant_id <> first_copies.assistant_id
    or staged.channel <> first_copies.channel
    or staged.user_id <> first_copies.user_id
    or staged.conversation_id <> first_copies.conversation_id
