{#- Use the folder's schema name as is (staging, identity, profiles ...), not
    <target_schema>_<custom>, so every target has the same, readable schema names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- do tessera_guard_node(node, custom_schema_name=custom_schema_name) -%}  {#- segments: macros/segments/guard.sql -#}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
