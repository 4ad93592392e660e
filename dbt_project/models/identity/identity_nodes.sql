{#-
    One row per identifier (id_type, id_value) ever seen, with its status:
      valid               takes part in the graph
      placeholder         a placeholder value (unknown, an all-zero UUID, an unrendered ad
                          macro such as {idfa}, x@x.com ...)
      blocked_value       on the type's blocklist (test@test.com ...)
      invalid_format      fails the type's pattern
      shared_identifier   a hub: kept as a node, never a bridge. Either linked to more
                          distinct values of some type than one person has (identity_hubs,
                          var identity_hub_max_links), or a device / anonymous id whose
                          records reach more strong groups (identity_strong_components)
                          than var identity_hub_max_strong_groups allows, directly or through
                          the other weak identifiers it shares records with (an ad macro
                          device joins every cookie it touches; a kiosk cookie every shopper),
                          or a strong identifier whose devices and cookies reach more other
                          persons' strong groups than that var allows for its type
                          ('not_logged_in' sent as the user id of every visitor)
    status_detail gives the evidence: which link type, how many, against what threshold.
-#}
{{ config(materialized='table') }}

{%- set config = identity_config() -%}
{%- set id_types = config.id_priority -%}
{%- set weak_types = identity_weak_types(config) -%}
{#- a phone is left out of the strong groups (it can pass to another person), so like a device
    it is counted against the strong groups it reaches (a household landline reaches each
    member's); the other strong types are counted by their reach through devices and cookies -#}
{%- set group_types = weak_types + (config.recyclable_id_types | reject('in', weak_types) | list) -%}
{%- set group_caps = {} -%}
{%- set reach_caps = {} -%}
{%- for id_type, max in config.hub_max_strong_groups.items() if max is not none -%}
    {%- if id_type in group_types -%}
        {%- do group_caps.update({id_type: max}) -%}
    {%- else -%}
        {%- do reach_caps.update({id_type: max}) -%}
    {%- endif -%}
{%- endfor -%}

with

records as (

    select * from {{ ref('identity_records') }}

),

valid_records as (

    select * from {{ ref('identity_records_valid') }}

),

hubs as (

    select * from {{ ref('identity_hubs') }}

),

hub_nodes as (

    select distinct node_key from hubs

),

strong_components as (

    select * from {{ ref('identity_strong_components') }}

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

grouped as (

    select
        id_type,
        id_value,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        cast(sum(record_count) as bigint) as record_count,
        {{ identity_source_set_agg('source') }},
        max(identity_loaded_at) as loaded_at

    from occurrences
    group by id_type, id_value

),

aggregated as (

    select
        id_type,
        id_value,
        first_seen_at,
        last_seen_at,
        record_count,
        {{ identity_source_set_columns() }},
        loaded_at

    from grouped

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

{% if group_caps %}
{%- set grouped_types = config.strong_id_types | reject('in', group_types) | list %}
{#- The strong group of each record that carries a member of one: a phone on such a record is
    that person's phone there (typed with their account or email), not another person. -#}
record_groups as {{ materialized_cte() }} (

    select record_key, min(s.component_key) as group_key
    from (
        {%- for strong_type in grouped_types %}
        select record_key, {{ identity_node_key(strong_type, strong_type) }} as node_key
        from valid_records
        where {{ strong_type }} is not null
        {{ 'union all' if not loop.last }}
        {%- else %}
        select cast(null as varchar) as record_key, cast(null as varchar) as node_key
        where 1 = 0
        {%- endfor %}
    ) members
    join strong_components s on s.node_key = members.node_key
    group by record_key

),

{#- Strong groups a weak identifier reaches: through the strong identifiers on its own
    records, and through those of the other (non-hub) weak identifiers it shares records with
    (device <-> cookie chains). A phone (in no strong group: it can pass on) counts as the
    group of the record it is on, or as a group of its own on a record without one. -#}
weak_strong_nodes as {{ materialized_cte() }} (

    {%- for weak_type in group_types %}
    {%- for strong_type in config.strong_id_types
           if weak_type in weak_types or strong_type not in group_types %}
    select distinct
        {{ identity_node_key(weak_type, 'r.' ~ weak_type) }} as weak_key,
        {{ identity_node_key(strong_type, 'r.' ~ strong_type) }} as strong_key,
        coalesce(
            s.component_key,
            {{ 'g.group_key,' if strong_type in group_types }}
            {{ identity_node_key(strong_type, 'r.' ~ strong_type) }}
        ) as group_key
    from valid_records r
    left join strong_components s
        on s.node_key = {{ identity_node_key(strong_type, 'r.' ~ strong_type) }}
    {%- if strong_type in group_types %}
    left join record_groups g on g.record_key = r.record_key
    {%- endif %}
    where r.{{ weak_type }} is not null and r.{{ strong_type }} is not null
        and {{ identity_node_key(strong_type, 'r.' ~ strong_type) }}
            not in (select node_key from hub_nodes)
    {{ 'union' if not loop.last }}
    {%- endfor %}
    {{ 'union' if not loop.last }}
    {%- endfor %}

),

weak_strong as (

    select distinct weak_key, group_key from weak_strong_nodes

),

weak_pairs as (

    {%- set pairs = [] -%}
    {%- for a in weak_types -%}
        {%- for b in weak_types if b != a -%}
            {%- do pairs.append((a, b)) -%}
        {%- endfor -%}
    {%- endfor %}
    {%- for a, b in pairs %}
    select distinct
        {{ identity_node_key(a, 'r.' ~ a) }} as weak_key,
        {{ identity_node_key(b, 'r.' ~ b) }} as other_key
    from valid_records r
    where r.{{ a }} is not null and r.{{ b }} is not null
    {{ 'union' if not loop.last }}
    {%- else %}
    select cast(null as varchar) as weak_key, cast(null as varchar) as other_key where 1 = 0
    {%- endfor %}

),

reached_groups as (

    select weak_key, group_key from weak_strong
    union
    select p.weak_key, ws.group_key
    from weak_pairs p
    join weak_strong ws on ws.weak_key = p.other_key
    where p.other_key not in (select node_key from hub_nodes)

),

group_hubs as (

    select
        weak_key as node_key,
        count(*) as linked_count

    from reached_groups
    where weak_key not in (select node_key from hub_nodes)
    group by weak_key
    having count(*) > case split_part(weak_key, ':', 1)
        {%- for id_type, max in group_caps.items() %}
        when '{{ id_type }}' then {{ max }}
        {%- endfor %}
        else {{ 2 ** 31 }}
    end

),
{% endif %}

{% if reach_caps and group_caps %}
{#- A strong identifier that reaches other persons' strong groups through the devices and
    cookies it shares records with ('not_logged_in' as a user id on every visitor's cookie):
    its own group does not count, hubs are left out. -#}
reach_hubs as (

    select
        a.strong_key as node_key,
        count(distinct b.group_key) as linked_count

    from weak_strong_nodes a
    join weak_strong_nodes b
        on b.weak_key = a.weak_key
        and b.group_key <> a.group_key
    where a.weak_key not in (select node_key from hub_nodes)
        and a.weak_key not in (select node_key from group_hubs)
        and split_part(a.weak_key, ':', 1) in ('{{ weak_types | join("', '") }}')
        and split_part(a.strong_key, ':', 1) in ('{{ reach_caps.keys() | join("', '") }}')
    group by a.strong_key
    having count(distinct b.group_key) > case split_part(a.strong_key, ':', 1)
        {%- for id_type, max in reach_caps.items() %}
        when '{{ id_type }}' then {{ max }}
        {%- endfor %}
    end

),
{% endif %}

hub_evidence as (

    select
        node_key,
        {{ identity_string_agg('detail', '; ') }} as detail,
        max(linked_count) as linked_count

    from (
        select node_key, detail, linked_count from hubs
        {%- if group_caps %}
        union all
        select
            node_key,
            split_part(node_key, ':', 1) || ' reaches ' || cast(linked_count as varchar)
                || ' strong groups (persons by their own strong identifiers) directly or '
                || 'through the devices and cookies it shares records with (at most '
                || case split_part(node_key, ':', 1)
                    {%- for id_type, max in group_caps.items() %}
                    when '{{ id_type }}' then '{{ max }}'
                    {%- endfor %}
                end || ')' as detail,
            linked_count
        from group_hubs
        {%- endif %}
        {%- if reach_caps and group_caps %}
        union all
        select
            node_key,
            split_part(node_key, ':', 1) || ' reaches ' || cast(linked_count as varchar)
                || ' other persons'' strong groups through the devices and cookies it shares '
                || 'records with (at most '
                || case split_part(node_key, ':', 1)
                    {%- for id_type, max in reach_caps.items() %}
                    when '{{ id_type }}' then '{{ max }}'
                    {%- endfor %}
                end || ')' as detail,
            linked_count
        from reach_hubs
        {%- endif %}
    ) evidence
    group by node_key

),

final as (

    select
        v.id_type || ':' || v.id_value as node_key,
        v.id_type,
        v.id_value,
        case
            when v.invalid_reason is not null then v.invalid_reason
            when h.node_key is not null then 'shared_identifier'
            else 'valid'
        end as status,
        case
            when v.invalid_reason = 'invalid_format'
                then 'does not match identity_valid_patterns.' || v.id_type
            when v.invalid_reason is not null
                then 'a placeholder or junk value (identity_placeholder_values, '
                    || 'identity_placeholder_patterns, identity_blocked_values)'
            else h.detail
        end as status_detail,
        h.linked_count,
        v.first_seen_at,
        v.last_seen_at,
        v.record_count,
        v.sources,
        v.loaded_at

    from validated v
    left join hub_evidence h
        on h.node_key = v.id_type || ':' || v.id_value

)

select * from final
