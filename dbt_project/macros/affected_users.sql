{#-
  Incremental models here are keyed by user, (assistant_id, user_id): every chat, rating, first
  chat and device belongs to one user. A refresh recomputes the users in int_users_affected (the
  loader writes them to raw.pending_users) over their whole history, so a late event can move a
  chat's start, merge or split chats, or move a first chat, with no fixed look-back window.
-#}

{% macro user_keyed_incremental_config() %}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_affected_users() }}"
    ) }}
{% endmacro %}


{% macro delete_affected_users() %}
    {%- if is_incremental() -%}
        delete from {{ this }} as t
        where exists (
            select 1 from {{ ref('int_users_affected') }} as a
            where a.assistant_id = t.assistant_id and a.user_id = t.user_id
        )
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}


{#- A predicate: in an incremental run, keep only the affected users' rows of `relation_alias`. -#}
{% macro only_affected_users(relation_alias) %}
    {%- if is_incremental() -%}
        exists (
            select 1 from {{ ref('int_users_affected') }} as a
            where a.assistant_id = {{ relation_alias }}.assistant_id and a.user_id = {{ relation_alias }}.user_id
        )
    {%- else -%}
        true
    {%- endif -%}
{% endmacro %}
