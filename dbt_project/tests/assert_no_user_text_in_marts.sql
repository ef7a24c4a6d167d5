{{ config(meta={'dagster': {'ref': {'name': 'fct_messages'}}}) }}
-- Privacy: free text written by users (user_message.text), the raw lines and the raw properties
-- JSON stay in the raw schema. Returns every column of the staging, intermediate and marts
-- schemas that is named like user text or raw payload (text, message_text, user_text, raw_line,
-- line, properties) or has the JSON type. Not scoped to the affected users
-- (docs/incremental.md): it reads the schema, not rows: the columns of every model of those
-- schemas, from columns_of_models (one information_schema query on DuckDB; one
-- get_columns_in_relation per model on Spark, which has no information_schema).
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

{%- set offending = [] -%}
{%- if execute -%}
    {%- for schema, table, column, dtype in columns_of_models(['staging', 'intermediate', 'marts']) -%}
        {%- if column | lower in ['text', 'message_text', 'user_text', 'raw_line', 'line', 'properties']
              or dtype | upper == 'JSON' -%}
            {%- do offending.append((schema, table, column, dtype)) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}

{% for schema, table, column, dtype in offending -%}
select '{{ schema }}' as table_schema, '{{ table }}' as table_name, '{{ column }}' as column_name, '{{ dtype }}' as data_type
union all
{% endfor -%}
select 'none' as table_schema, 'none' as table_name, 'none' as column_name, 'none' as data_type
where 1 = 0
