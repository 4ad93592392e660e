{#-
    Edges between identifiers seen on the same record, as a star: each record's identifiers
    link to one anchor, the record's highest-priority usable identifier (var
    identity_id_priority), never to each other. Identifiers over a link cap (shared devices,
    kiosk anonymous_ids) are cut out before the anchor is chosen; the edges they would have
    made are kept here with is_dropped = true so identity_audit can show them.
-#}
{{ config(materialized='table') }}

{%- set id_types = identity_config().id_priority -%}

with

valid_records as (

    select * from {{ ref('identity_records_valid') }}

),

shared_nodes as (

    select id_type, id_value
    from {{ ref('identity_nodes') }}
    where status = 'shared_identifier'

),

usable as (

    select
        r.record_key,
        r.source,
        r.first_seen_at,
        r.last_seen_at,
        r.record_count,
        r.identity_loaded_at,
        {%- for id_type in id_types %}
        r.{{ id_type }} as {{ id_type }}_valid,
        case when shared_{{ id_type }}.id_value is null then r.{{ id_type }} end as {{ id_type }}
        {{- ',' if not loop.last }}
        {%- endfor %}

    from valid_records r
    {%- for id_type in id_types %}
    left join shared_nodes shared_{{ id_type }}
        on shared_{{ id_type }}.id_type = '{{ id_type }}'
        and shared_{{ id_type }}.id_value = r.{{ id_type }}
    {%- endfor %}

),

anchored as (

    select
        *,
        case
            {%- for id_type in id_types %}
            when {{ id_type }} is not null then {{ identity_node_key(id_type, id_type) }}
            {%- endfor %}
        end as anchor_key

    from usable

),

star_edges as (

    {%- for id_type in id_types %}
    select
        anchor_key as src_key,
        {{ identity_node_key(id_type, id_type) }} as dst_key,
        false as is_dropped,
        source,
        first_seen_at,
        last_seen_at,
        record_count,
        identity_loaded_at
    from anchored
    where {{ id_type }} is not null
        and {{ identity_node_key(id_type, id_type) }} <> anchor_key
    union all
    {%- endfor %}

    {# edges a shared identifier would have made to the record's anchor #}
    {%- for id_type in id_types %}
    select
        {{ identity_node_key(id_type, id_type ~ '_valid') }} as src_key,
        anchor_key as dst_key,
        true as is_dropped,
        source,
        first_seen_at,
        last_seen_at,
        record_count,
        identity_loaded_at
    from anchored
    where {{ id_type }}_valid is not null
        and {{ id_type }} is null
        and anchor_key is not null
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

final as (

    select
        src_key,
        dst_key,
        is_dropped,
        {{ identity_string_agg('source') }} as sources,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        cast(sum(record_count) as bigint) as record_count,
        max(identity_loaded_at) as loaded_at

    from star_edges
    group by src_key, dst_key, is_dropped

)

select * from final
