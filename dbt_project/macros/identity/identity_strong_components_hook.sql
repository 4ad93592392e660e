{#-
    identity_strong_components_hook(records_valid, hubs): the pre-hook of
    identity_strong_components. Star edges between the strong, non-recyclable identifiers of
    each record (anchor: the record's highest-priority one), leaving out hubs, solved by
    connected_components into the session temporary table identity_strong_labels
    (node_key, component_key). Iterations go to identity_cc_runs with mode 'strong'.
-#}
{%- macro identity_strong_components_hook(records_valid, hubs) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set config = identity_config() -%}
    {%- set strong = [] -%}
    {%- for id_type in config.id_priority
           if id_type in config.strong_id_types and id_type not in config.recyclable_id_types -%}
        {%- do strong.append(id_type) -%}
    {%- endfor -%}
    {%- set started = modules.datetime.datetime.now() -%}
    {%- set edges_sql -%}
        with hub_nodes as (
            select distinct node_key from {{ hubs }}
        ),
        usable as (
            select
                {%- for id_type in strong %}
                case when h_{{ id_type }}.node_key is null then r.{{ id_type }} end
                    as {{ id_type }}{{ ',' if not loop.last }}
                {%- endfor %}
            from {{ records_valid }} r
            {%- for id_type in strong %}
            left join hub_nodes h_{{ id_type }}
                on h_{{ id_type }}.node_key = {{ identity_node_key(id_type, 'r.' ~ id_type) }}
            {%- endfor %}
        ),
        anchored as (
            select
                *,
                case
                    {%- for id_type in strong %}
                    when {{ id_type }} is not null then {{ identity_node_key(id_type, id_type) }}
                    {%- endfor %}
                end as anchor_key
            from usable
        )
        {%- for id_type in strong %}
        select anchor_key as src, {{ identity_node_key(id_type, id_type) }} as dst
        from anchored
        where {{ id_type }} is not null
            and {{ identity_node_key(id_type, id_type) }} <> anchor_key
        {{ 'union' if not loop.last }}
        {%- endfor %}
    {%- endset -%}
    {%- set stats = connected_components(
        edges_sql, 'identity_strong_labels', config.max_iterations,
        run_label=this | string) -%}
    {%- set total_seconds = (modules.datetime.datetime.now() - started).total_seconds() -%}
    {%- do _identity_record_cc_run(stats, 'strong', stats.nodes, total_seconds) -%}
    {{ return('') }}
{%- endmacro -%}
