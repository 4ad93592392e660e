{#-
    Strong groups: connected components of the strong identifiers (var
    identity_strong_id_types) that are not hubs and not recyclable (var
    identity_recyclable_id_types: a phone can pass from one person to another), joined by
    records that carry several of them. A strong group is a person as far as their own
    strong identifiers can tell. identity_nodes counts the strong groups a device or cookie
    reaches (a kiosk reaches hundreds: a hub), and identity_edges compares the strong groups
    a phone or device was seen with over time (a recycled number passes from one to the
    next). The pre-hook runs connected_components into a session temporary table.
    Rebuilt in full on every run.
-#}
{{
    config(
        materialized='table',
        pre_hook=(
            "{{ identity_strong_components_hook(ref('identity_records_valid'), "
            ~ "ref('identity_hubs')) }}"
        ),
    )
}}

-- depends_on: {{ ref('identity_records_valid') }}
-- depends_on: {{ ref('identity_hubs') }}

with

labels as (

    select * from identity_strong_labels

),

final as (

    select
        node_key,
        component_key

    from labels

)

select * from final
