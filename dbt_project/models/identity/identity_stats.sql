{#-
    Health of identity resolution as (metric, dimension, value) rows: graph size, dropped
    identifiers by reason, hubs by type, edges cut by reason (hub, recycled, person limit,
    weak join), components the person limits split, cluster-size distribution, the largest
    cluster, the share of anonymous ids recognised (linked to a known person), and the latest
    connected-components run (iterations, seconds, region size, agglomeration rounds).
-#}
{{ config(materialized='table') }}

-- depends_on: {{ ref('identity_graph') }}

with

graph as (

    select * from {{ ref('identity_graph') }}

),

persons as (

    select * from {{ ref('persons') }}

),

nodes as (

    select * from {{ ref('identity_nodes') }}

),

edges as (

    select * from {{ ref('identity_edges') }}

),

cc_runs as (

    select * from {{ source('identity_runtime', 'identity_cc_runs') }}

),

limit_cuts as (

    select * from {{ source('identity_runtime', 'identity_limit_cuts') }}

),

graph_cc_runs as (

    select * from cc_runs where mode in ('full', 'incremental')

),

latest_cc_run as (

    select *
    from graph_cc_runs
    where invocation_id = (
        select max(invocation_id) from graph_cc_runs
        where run_started_at = (select max(run_started_at) from graph_cc_runs)
    )

),

strong_cc_runs as (

    select * from cc_runs where mode = 'strong'

),

latest_strong_run as (

    select *
    from strong_cc_runs
    where invocation_id = (
        select max(invocation_id) from strong_cc_runs
        where run_started_at = (select max(run_started_at) from strong_cc_runs)
    )

),

sized_persons as (

    select
        person_id,
        identifier_count,
        case
            when identifier_count = 1 then '01: 1'
            when identifier_count = 2 then '02: 2'
            when identifier_count <= 5 then '03: 3-5'
            when identifier_count <= 10 then '04: 6-10'
            when identifier_count <= 50 then '05: 11-50'
            when identifier_count <= 200 then '06: 51-200'
            else '07: >200'
        end as size_bucket

    from persons

),

largest as (

    select person_id, identifier_count
    from persons
    order by identifier_count desc, person_id
    limit 1

),

anonymous_ids as (

    select
        count(*) as anonymous_ids,
        sum(case when p.is_known then 1 else 0 end) as recognised

    from graph g
    join persons p on p.person_id = g.person_id
    where g.id_type = 'anonymous_id'

),

metrics as (

    select 'identifiers_seen' as metric, cast(null as varchar) as dimension,
        cast(count(*) as double precision) as value
    from nodes

    union all
    select 'identifiers_dropped', status, cast(count(*) as double precision)
    from nodes
    where status <> 'valid'
    group by status

    union all
    select 'identifiers_in_graph', id_type, cast(count(*) as double precision)
    from graph
    group by id_type

    union all
    select 'hubs', id_type, cast(count(*) as double precision)
    from nodes
    where status = 'shared_identifier'
    group by id_type

    union all
    select 'edges', case when is_dropped then 'dropped' else 'kept' end,
        cast(count(*) as double precision)
    from edges
    group by is_dropped

    union all
    select 'edges_cut', cut_reason, cast(count(*) as double precision)
    from edges
    where is_dropped
    group by cut_reason

    union all
    select 'edges_cut', reason, cast(count(*) as double precision)
    from limit_cuts
    group by reason

    union all
    select 'components_split_by_limits', max(mode), cast(max(split_components) as double precision)
    from latest_cc_run

    union all
    select 'agglomeration_rounds', max(mode),
        cast(max(agglomeration_rounds) as double precision)
    from latest_cc_run

    union all
    select 'persons', null, cast(count(*) as double precision)
    from persons

    union all
    select 'known_persons', null, cast(sum(case when is_known then 1 else 0 end) as double precision)
    from persons

    union all
    select 'cluster_size_persons', size_bucket, cast(count(*) as double precision)
    from sized_persons
    group by size_bucket

    union all
    select 'largest_cluster_identifiers', person_id, cast(identifier_count as double precision)
    from largest

    union all
    select 'anonymous_ids_recognised_share', null,
        cast(recognised as double precision) / nullif(anonymous_ids, 0)
    from anonymous_ids

    union all
    select 'cc_iterations', max(mode), cast(max(total_iterations) as double precision)
    from latest_cc_run

    union all
    select 'cc_pointer_jumps', max(mode), cast(max(total_jumps) as double precision)
    from latest_cc_run

    union all
    select 'cc_seconds', max(mode), max(cc_seconds)
    from latest_cc_run

    union all
    select 'cc_resolve_seconds', max(mode), max(resolve_seconds)
    from latest_cc_run

    union all
    select 'cc_region_nodes', max(mode), cast(max(region_nodes) as double precision)
    from latest_cc_run

    union all
    select 'cc_edges', max(mode), cast(max(total_edges) as double precision)
    from latest_cc_run

    union all
    select 'cc_strong_iterations', null, cast(max(total_iterations) as double precision)
    from latest_strong_run

    union all
    select 'cc_strong_seconds', null, max(cc_seconds)
    from latest_strong_run

),

final as (

    select
        metric,
        dimension,
        value,
        {{ identity_run_stamp() }} as computed_at

    from metrics

)

select * from final
