{#-
    Everything identity resolution refused to use, and why, with the evidence:
      identifier  placeholder, blocked_value, invalid_format, or shared_identifier (a hub:
                  how many distinct values of which type it links, or how many strong groups
                  it reaches, against the threshold)
      edge        edge_to_shared_identifier (an edge a hub would have made), recycled (a
                  phone or device that passed from one person to another: when each was last
                  and first seen with it), person_limit (joining would break var
                  identity_person_limits: how many of which type), weak_join (a device or
                  cookie would have joined two persons), uncorroborated (one record would
                  have joined two established persons), contested (a strong identifier seen
                  once each with several persons: a house card), unresolved
-#}
{{ config(materialized='table') }}

-- depends_on: {{ ref('identity_graph') }}

with

nodes as (

    select * from {{ ref('identity_nodes') }}

),

edges as (

    select * from {{ ref('identity_edges') }}

),

limit_cuts as (

    select * from {{ source('identity_runtime', 'identity_limit_cuts') }}

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

cut_edges as (

    select
        src_key,
        dst_key,
        case cut_reason
            when 'shared_identifier' then 'edge_to_shared_identifier'
            else cut_reason
        end as reason,
        cut_detail as detail,
        record_count,
        first_seen_at,
        last_seen_at,
        sources

    from edges
    where is_dropped

    union all

    select
        c.src_key,
        c.dst_key,
        c.reason,
        c.detail,
        coalesce(e1.record_count, e2.record_count),
        coalesce(e1.first_seen_at, e2.first_seen_at),
        coalesce(e1.last_seen_at, e2.last_seen_at),
        coalesce(e1.sources, e2.sources)

    from limit_cuts c
    left join edges e1
        on e1.src_key = c.src_key and e1.dst_key = c.dst_key and not e1.is_dropped
    left join edges e2
        on e2.src_key = c.dst_key and e2.dst_key = c.src_key and not e2.is_dropped

),

dropped_edges as (

    select
        'edge' as audit_kind,
        split_part(src_key, ':', 1) as id_type,
        substr(src_key, length(split_part(src_key, ':', 1)) + 2) as id_value,
        split_part(dst_key, ':', 1) as linked_id_type,
        substr(dst_key, length(split_part(dst_key, ':', 1)) + 2) as linked_id_value,
        reason,
        detail,
        record_count as observed_count,
        first_seen_at,
        last_seen_at,
        sources

    from cut_edges

),

final as (

    select * from dropped_identifiers
    union all
    select * from dropped_edges

)

select * from final
