{#-
    Strong identifiers seen with more distinct linked identifiers than var identity_link_caps
    allows (a user_id with many emails, an email used by several accounts). Counts are of
    distinct valid values seen on the same records.
-#}
{{ config(materialized='table') }}

{%- set config = identity_config() -%}

with

valid_records as (

    select * from {{ ref('identity_records_valid') }}

),

{% for rule in config.link_caps %}
cap_{{ loop.index }} as (

    select
        '{{ rule.id_type }}' as id_type,
        {{ rule.id_type }} as id_value,
        '{{ rule.id_type }} seen with ' || cast(count(distinct {{ rule.linked_type }}) as varchar)
            || ' distinct {{ rule.linked_type }} values (cap {{ rule.max }})' as detail,
        count(distinct {{ rule.linked_type }}) as linked_count

    from valid_records
    where {{ rule.id_type }} is not null and {{ rule.linked_type }} is not null
    group by {{ rule.id_type }}
    having count(distinct {{ rule.linked_type }}) > {{ rule.max }}

),

{% endfor %}
cap_violations as (

    select
        id_type,
        id_value,
        {{ identity_string_agg('detail', '; ') }} as detail,
        max(linked_count) as linked_count

    from (
        {%- for rule in config.link_caps %}
        select * from cap_{{ loop.index }}
        {{ 'union all' if not loop.last }}
        {%- else %}
        select
            cast(null as varchar) as id_type,
            cast(null as varchar) as id_value,
            cast(null as varchar) as detail,
            0 as linked_count
        where 1 = 0
        {%- endfor %}
    ) caps
    group by id_type, id_value

),

final as (

    select
        id_type || ':' || id_value as node_key,
        id_type,
        id_value,
        detail,
        linked_count

    from cap_violations

)

select * from final
