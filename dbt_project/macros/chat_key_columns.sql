{#- The columns every chat-grain fact begins with, in this order: the chat, then what a report
    filters and groups its rows by (assistant, channel, user, local date), all from dim_chats.
    `relation` qualifies them where the fact joins dim_chats to another relation. -#}
{% macro chat_key_columns(relation=none) -%}
    {%- set prefix = relation ~ '.' if relation else '' -%}
    {{ prefix }}chat_id,
        {{ prefix }}assistant_id,
        {{ prefix }}channel,
        {{ prefix }}user_id,
        {{ prefix }}chat_local_date
{%- endmacro %}
