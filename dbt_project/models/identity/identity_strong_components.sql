{#-
    Components of the strong identifiers alone (var identity_strong_id_types: user_id, crm_id,
    email, phone, loyalty_id), joined by records that carry several of them. identity_nodes
    uses them to count how many different persons a weak identifier (a device, a cookie) was
    seen with: a household tablet used by two account holders touches two strong components
    and is shared. The pre-hook runs connected_components into a session temporary table.
    Strong identifiers over a link cap take no part. Rebuilt in full on every run.
-#}
{{
    config(
        materialized='table',
        pre_hook=(
            "{{ identity_strong_components_hook(ref('identity_records_valid'), "
            ~ "ref('identity_link_caps')) }}"
        ),
    )
}}

-- depends_on: {{ ref('identity_records_valid') }}
-- depends_on: {{ ref('identity_link_caps') }}

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
