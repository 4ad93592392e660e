{#-
    One row per identifier (id_type, id_value) ever seen, with its status:
      valid               takes part in the graph
      placeholder         a placeholder value (unknown, null, all-zero UUID ...)
      blocked_value       on the type's blocklist (test@test.com ...)
      invalid_format      fails the type's pattern
      shared_identifier   over a cap, never merged: a strong identifier seen with more
                          distinct linked identifiers than var identity_link_caps allows (a
                          user_id with many emails), or a weak one (device_id, anonymous_id)
                          seen with identifiers of more strong persons than var
                          identity_person_caps allows (a household tablet, a kiosk)
-#}
{{ config(materialized='table') }}

{%- set config = identity_config() -%}
{%- set id_types = config.id_priority -%}

with

records as (

    select * from {{ ref('identity_records') }}

),

valid_records as (

    select * from {{ ref('identity_records_valid') }}

),

occurrences as (

    {%- for id_type in id_types %}
    select
        '{{ id_type }}' as id_type,
        {{ id_type }} as id_value,
        source,
        first_seen_at,
        last_seen_at,
        record_count,
        identity_loaded_at
    from records
    where {{ id_type }} is not null
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

aggregated as (

    select
        id_type,
        id_value,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        cast(sum(record_count) as bigint) as record_count,
        {{ identity_string_agg('source') }} as sources,
        max(identity_loaded_at) as loaded_at

    from occurrences
    group by id_type, id_value

),

validated as (

    select
        *,
        case id_type
            {%- for id_type in id_types %}
            when '{{ id_type }}' then {{ identity_invalid_reason(id_type, 'id_value') }}
            {%- endfor %}
        end as invalid_reason

    from aggregated

),

strong_components as (

    select * from {{ ref('identity_strong_components') }}

),

link_capped as (

    select * from {{ ref('identity_link_caps') }}

),

{% for weak_type, max in config.person_caps.items() %}
strong_neighbours_{{ weak_type }} as (

    {%- for strong_type in config.strong_id_types %}
    select
        {{ weak_type }} as id_value,
        {{ identity_node_key(strong_type, strong_type) }} as strong_key
    from valid_records
    where {{ weak_type }} is not null and {{ strong_type }} is not null
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

person_cap_{{ weak_type }} as (

    select
        '{{ weak_type }}' as id_type,
        n.id_value,
        '{{ weak_type }} seen with identifiers of '
            || cast(count(distinct coalesce(s.component_key, n.strong_key)) as varchar)
            || ' different persons (cap {{ max }})' as detail,
        count(distinct coalesce(s.component_key, n.strong_key)) as linked_count

    from strong_neighbours_{{ weak_type }} n
    left join strong_components s on s.node_key = n.strong_key
    left join link_capped c on c.node_key = n.strong_key
    where c.node_key is null
    group by n.id_value
    having count(distinct coalesce(s.component_key, n.strong_key)) > {{ max }}

),

{% endfor %}
cap_violations as (

    select
        id_type,
        id_value,
        {{ identity_string_agg('detail', '; ') }} as detail,
        max(linked_count) as linked_count

    from (
        select id_type, id_value, detail, linked_count from link_capped
        {%- for weak_type in config.person_caps %}
        union all
        select id_type, id_value, detail, linked_count from person_cap_{{ weak_type }}
        {%- endfor %}
    ) caps
    group by id_type, id_value

),

final as (

    select
        v.id_type || ':' || v.id_value as node_key,
        v.id_type,
        v.id_value,
        case
            when v.invalid_reason is not null then v.invalid_reason
            when c.id_value is not null then 'shared_identifier'
            else 'valid'
        end as status,
        case
            when v.invalid_reason = 'invalid_format'
                then 'does not match identity_valid_patterns.' || v.id_type
            when v.invalid_reason is not null then 'value is on the placeholder or block list'
            else c.detail
        end as status_detail,
        c.linked_count,
        v.first_seen_at,
        v.last_seen_at,
        v.record_count,
        v.sources,
        v.loaded_at

    from validated v
    left join cap_violations c
        on v.id_type = c.id_type
        and v.id_value = c.id_value

)

select * from final
