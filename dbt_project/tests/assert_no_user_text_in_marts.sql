-- Privacy: free text written by users (user_message.text), the raw lines and the raw properties
-- JSON stay in the raw schema. Returns every column of the staging, intermediate and marts
-- schemas that is named like user text or raw payload (text, message_text, user_text, raw_line,
-- line, properties) or has the JSON type. Not scoped to the affected users
-- (docs/incremental.md): it reads the schema, not rows.
-- depends_on: {{ ref('int_events_deduplicated') }}
-- depends_on: {{ ref('stg_platform__rejected_lines') }}
-- depends_on: {{ ref('int_events_sessionized') }}
-- depends_on: {{ ref('dim_chats') }}
-- depends_on: {{ ref('dim_users') }}
-- depends_on: {{ ref('dim_agents') }}
-- depends_on: {{ ref('dim_assistants') }}
-- depends_on: {{ ref('fct_users') }}
-- depends_on: {{ ref('fct_messages') }}
-- depends_on: {{ ref('fct_chats') }}
-- depends_on: {{ ref('fct_handover') }}
-- depends_on: {{ ref('fct_engagement') }}
-- depends_on: {{ ref('fct_feedback') }}
-- depends_on: {{ ref('fct_csat') }}
-- depends_on: {{ ref('fct_traffic') }}
-- depends_on: {{ ref('fct_clicks') }}
-- depends_on: {{ ref('fct_agents') }}
-- depends_on: {{ ref('data_quality_daily') }}

select table_schema, table_name, column_name, data_type
from information_schema.columns
where table_catalog = current_database()
    and table_schema in ('staging', 'intermediate', 'marts')
    and (
        lower(column_name) in ('text', 'message_text', 'user_text', 'raw_line', 'line', 'properties')
        or upper(data_type) = 'JSON'
    )
