{#-
    identity_records with every identifier that fails its type's validity rules (placeholder,
    blocked value, bad format) set to null, so neither caps nor edges ever see it.

    A table, not a view: the validity rules (a dozen patterns per identifier) cost more than
    anything else per record, and identity_hubs, identity_strong_components, identity_nodes
    and identity_edges each read every record; as a view each of them paid for the rules again.
-#}
{{ config(materialized='table') }}

{%- set id_types = identity_config().id_priority -%}

with

records as (

    select * from {{ ref('identity_records') }}

),

final as (

    select
        record_key,
        source,
        {%- for id_type in id_types %}
        case
            when ({{ identity_invalid_reason(id_type, id_type) }}) is null then {{ id_type }}
        end as {{ id_type }},
        {%- endfor %}
        first_seen_at,
        last_seen_at,
        record_count,
        identity_loaded_at

    from records

)

select * from final
