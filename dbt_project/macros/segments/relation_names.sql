{#- dbt's own alias and database naming, with the segment guard in front (guard.sql): a
    segment cannot name another table or database, whatever its YAML or config() says. -#}
{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
    {%- do tessera_guard_node(node, custom_alias_name=custom_alias_name) -%}
    {%- do return(dbt.default__generate_alias_name(custom_alias_name, node)) -%}
{%- endmacro %}

{% macro generate_database_name(custom_database_name=none, node=none) -%}
    {%- do tessera_guard_node(node, custom_database_name=custom_database_name) -%}
    {%- do return(dbt.default__generate_database_name(custom_database_name, node)) -%}
{%- endmacro %}
