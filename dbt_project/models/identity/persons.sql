{#- One row per resolved person, with identifier counts per type. -#}
{{ config(materialized='table') }}

{%- set id_types = identity_config().id_priority -%}

with

graph as (

    select * from {{ ref('identity_graph') }}

),

final as (

    select
        person_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        count(*) as identifier_count,
        {%- for id_type in id_types %}
        sum(case when id_type = '{{ id_type }}' then 1 else 0 end) as {{ id_type }}_count,
        {%- endfor %}
        max(case when id_type in ('email', 'user_id', 'crm_id') then 1 else 0 end) = 1
            as is_known,
        max(person_changed_at) as person_changed_at,
        max(resolved_at) as resolved_at

    from graph
    group by person_id

)

select * from final
