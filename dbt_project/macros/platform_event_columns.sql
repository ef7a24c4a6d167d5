{#- The columns of a staged event, computed from one row of raw.events (the columns of
    source('platform', 'events'), unqualified): its type-specific properties extracted into typed
    columns. Renames and casts only. The staging view selects them for every loaded copy;
    int_events_deduplicated for the first copies it keeps only, after ranking the copies on their
    plain columns, so that a refresh extracts the properties of the recomputed events alone. -#}
{% macro platform_event_columns() %}
        event_id,
        event_type,
        event_type in (
            'user_message', 'bot_message', 'operator_message', 'handover_request',
            'feedback', 'csat', 'click', 'agent_triggered'
        ) as is_known_type,
        occurred_at,
        assistant_id,
        channel,
        user_id,
        conversation_id,
        nullif(user_agent, '') as user_agent,

        case when event_type in ('user_message', 'bot_message', 'operator_message', 'feedback')
                then {{ json_text('properties', '$.message_id') }}
        end as message_id,
        case when event_type = 'user_message'
                then {{ json_text('properties', '$.input') }}
        end as input_mode,
        case when event_type = 'bot_message'
                then coalesce(cast({{ json_text('properties', '$.reviewable') }} as boolean), false)
        end as is_reviewable,
        case when event_type = 'bot_message'
                then coalesce(cast({{ json_text('properties', '$.is_fallback') }} as boolean), false)
        end as is_fallback,
        case when event_type in ('bot_message', 'agent_triggered')
                then {{ json_text('properties', '$.agent_id') }}
        end as agent_id,
        case when event_type in ('bot_message', 'agent_triggered')
                then {{ json_text('properties', '$.agent_name') }}
        end as agent_name,
        case when event_type in ('bot_message', 'agent_triggered')
                then {{ json_text('properties', '$.agent_kind') }}
        end as agent_kind,
        case when event_type = 'handover_request'
                then {{ json_text('properties', '$.via') }}
        end as handover_via,
        case when event_type = 'handover_request'
                then {{ json_text('properties', '$.mode') }}
        end as handover_mode,
        case when event_type = 'feedback'
                then {{ json_text('properties', '$.value') }}
        end as feedback_value,
        case when event_type = 'csat'
                then cast({{ json_text('properties', '$.score') }} as integer)
        end as csat_score,
        case when event_type = 'click'
                then {{ json_text('properties', '$.click_type') }}
        end as click_type,
        case when event_type = 'click'
                then {{ json_text('properties', '$.title') }}
        end as click_title,
        case when event_type = 'click'
                then {{ json_text('properties', '$.destination_type') }}
        end as click_destination_type,
        case when event_type = 'click'
                then {{ json_text('properties', '$.destination') }}
        end as click_destination,

        export_date,
        file_name,
        line_number
{%- endmacro %}
