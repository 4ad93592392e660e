{#-
    Everything identity resolution refused to use, and why: identifiers that are
    placeholders, blocked or malformed, identifiers over a link cap (shared devices, kiosk
    anonymous ids, user ids with too many emails), and the edges those shared identifiers
    would have made.
-#}
{{ config(materialized='table') }}

with

nodes as (

    select * from {{ ref('identity_nodes') }}

),

edges as (

    select * from {{ ref('identity_edges') }}

),

dropped_identifiers as (

    select
        'identifier' as audit_kind,
        id_type,
        id_value,
        cast(null as varchar) as linked_id_type,
        cast(null as varchar) as linked_id_value,
        status as reason,
        status_detail as detail,
        record_count as observed_count,
        first_seen_at,
        last_seen_at,
        sources

    from nodes
    where status <> 'valid'

),

dropped_edges as (

    select
        'edge' as audit_kind,
        split_part(src_key, ':', 1) as id_type,
        substr(src_key, length(split_part(src_key, ':', 1)) + 2) as id_value,
        split_part(dst_key, ':', 1) as linked_id_type,
        substr(dst_key, length(split_part(dst_key, ':', 1)) + 2) as linked_id_value,
        'edge_to_shared_identifier' as reason,
        'not merged: ' || src_key || ' is over a link cap' as detail,
        record_count as observed_count,
        first_seen_at,
        last_seen_at,
        sources

    from edges
    where is_dropped

),

final as (

    select * from dropped_identifiers
    union all
    select * from dropped_edges

)

select * from final
