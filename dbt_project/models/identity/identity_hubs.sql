{#-
    Identifiers linked to more distinct values of some type than one person plausibly has:
    hubs, found from the data in every type direction (var identity_hub_max_links). A store's
    phone typed for every loyalty member, a house loyalty card, 'nomail@nomail.com' on
    thousands of orders, an unrendered ad macro as the device id of every click, a bot's
    cookie typing hundreds of emails: no list names them, their links give them away.

    Counts are of distinct valid values seen on the same records. A value linked to hubs is
    counted again without them, so a real customer who once typed a junk address is not made
    a hub by it. One row per hub and linked type over its threshold.
-#}
{{ config(materialized='table') }}

{%- set config = identity_config() -%}
{%- set id_types = config.id_priority -%}
{%- set caps = [] -%}
{%- for id_type in id_types -%}
    {%- for linked_type in id_types if linked_type != id_type -%}
        {%- set max = identity_hub_max(config, id_type, linked_type) -%}
        {%- if max is not none -%}
            {%- do caps.append((id_type, linked_type, max)) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endfor -%}

with

valid_records as (

    select * from {{ ref('identity_records_valid') }}

),

{# one distinct pair per capped type direction, each from its own two columns: cheaper than
   unpivoting every record and joining it to itself on record_key #}
pairs as {{ materialized_cte() }} (

    {%- for id_type, linked_type, max in caps %}
    select
        '{{ id_type }}' as id_type,
        {{ id_type }} as id_value,
        '{{ linked_type }}' as linked_type,
        {{ linked_type }} as linked_value,
        {{ max }} as max_links
    from (
        select distinct {{ id_type }}, {{ linked_type }}
        from valid_records
        where {{ id_type }} is not null and {{ linked_type }} is not null
    ) as linked
    {{ 'union all' if not loop.last }}
    {%- else %}
    select
        cast(null as varchar) as id_type,
        cast(null as varchar) as id_value,
        cast(null as varchar) as linked_type,
        cast(null as varchar) as linked_value,
        0 as max_links
    where 1 = 0
    {%- endfor %}

),

first_pass as {{ materialized_cte() }} (

    select id_type, id_value, linked_type, max(max_links) as max_links
    from pairs
    group by id_type, id_value, linked_type
    having count(*) > max(max_links)

),

first_hubs as (

    select distinct id_type, id_value from first_pass

),

{# count again without the values that are hubs themselves #}
second_pass as (

    select
        p.id_type,
        p.id_value,
        p.linked_type,
        max(p.max_links) as max_links,
        count(*) as linked_count

    from pairs p
    join first_pass f
        on f.id_type = p.id_type
        and f.id_value = p.id_value
        and f.linked_type = p.linked_type
    left join first_hubs h
        on h.id_type = p.linked_type
        and h.id_value = p.linked_value
    where h.id_value is null
    group by p.id_type, p.id_value, p.linked_type
    having count(*) > max(p.max_links)

),

final as (

    select
        id_type || ':' || id_value as node_key,
        id_type,
        id_value,
        linked_type,
        linked_count,
        max_links,
        id_type || ' seen with ' || cast(linked_count as varchar) || ' distinct '
            || linked_type || ' values (a person has at most '
            || cast(max_links as varchar) || ')' as detail

    from second_pass

)

select * from final
