{#-
    The identity graph: one row per usable identifier with the person it belongs to.

    The pre-hook (macro identity_resolve_components) resolves the region this run must
    (re)assign (all valid nodes on a full build; the components touched by new data or
    changed edges on an incremental build) into the session temporary tables identity_region
    and identity_resolved: each node's component (kept edges) and person (the component, or
    a part of it where var identity_person_limits split it; identity_agglomerate).

    Stable person ids: a component that contains nodes of earlier persons keeps the id of
    the oldest of them (earliest first_seen_at, then smallest id); the others are merged into
    it (previous_person_id -> person_id, recorded by person_merges). Each earlier person goes
    with the component holding its oldest node, so when a component splits (an identifier
    became shared) the piece with the person's oldest node keeps its id. A component with
    no earlier person gets 'p_' || md5(its oldest node key), the same id a full rebuild gives.
-#}
{{
    config(
        materialized='incremental',
        unique_key='node_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook="{{ identity_resolve_components(ref('identity_nodes'), ref('identity_edges')) }}",
        post_hook=[
            "delete from {{ this }} where node_key not in (select node_key from "
            ~ "{{ ref('identity_nodes') }} where status = 'valid')",
            "{{ identity_remember_kept_edges() }}",
        ],
    )
}}

with

nodes as (

    select * from {{ ref('identity_nodes') }}
    where status = 'valid'

),

{#- identity_edges feeds the pre-hook's connected_components #}
-- depends_on: {{ ref('identity_edges') }}

region as (

    select n.*
    from nodes n
    join identity_region r on r.node_key = n.node_key

),

labels as (

    select * from identity_resolved

),

{% if is_incremental() %}
previous as (

    select
        g.node_key,
        g.person_id,
        g.first_seen_at,
        g.previous_person_id,
        g.person_changed_at
    from {{ this }} g
    join identity_region r on r.node_key = g.node_key

),
{% else %}
previous as (

    select
        cast(null as varchar) as node_key,
        cast(null as varchar) as person_id,
        cast(null as timestamp) as first_seen_at,
        cast(null as varchar) as previous_person_id,
        cast(null as timestamp) as person_changed_at
    where 1 = 0

),
{% endif %}

labelled as (

    select
        r.node_key,
        r.id_type,
        r.id_value,
        r.first_seen_at,
        r.last_seen_at,
        r.record_count,
        r.sources,
        coalesce(l.cluster_key, r.node_key) as cluster_key,
        coalesce(l.component_key, r.node_key) as graph_component_key,
        p.person_id as earlier_person_id,
        p.first_seen_at as earlier_first_seen_at,
        p.previous_person_id as earlier_previous_person_id,
        p.person_changed_at as earlier_person_changed_at

    from region r
    left join labels l on l.node_key = r.node_key
    left join previous p on p.node_key = r.node_key

),

earlier_person_nodes as (

    select
        earlier_person_id,
        cluster_key,
        min(earlier_first_seen_at) over (partition by earlier_person_id) as person_first_seen_at,
        row_number() over (
            partition by earlier_person_id
            order by earlier_first_seen_at, node_key
        ) as age_rank

    from labelled
    where earlier_person_id is not null

),

component_heirs as (

    {# each earlier person goes with the component holding its oldest node; the oldest
        earlier person in a component gives the component its id #}
    select
        cluster_key,
        earlier_person_id as person_id,
        row_number() over (
            partition by cluster_key
            order by person_first_seen_at, earlier_person_id
        ) as heir_rank

    from earlier_person_nodes
    where age_rank = 1

),

{# each component's seed is its oldest node (then the smallest key); aggregates, not a
   window over every node, which sorted them all #}
cluster_firsts as (

    select
        cluster_key,
        min(first_seen_at) as first_seen_at,
        max(case when earlier_person_id is not null then 1 else 0 end) as had_earlier_person

    from labelled
    group by cluster_key

),

component_seeds as (

    select
        l.cluster_key,
        min(l.node_key) as seed_key,
        max(f.had_earlier_person) as had_earlier_person

    from labelled l
    join cluster_firsts f
        on f.cluster_key = l.cluster_key
        and l.first_seen_at is not distinct from f.first_seen_at
    group by l.cluster_key

),

component_persons as (

    select
        s.cluster_key,
        coalesce(
            h.person_id,
            case
                {# a piece split off an earlier person: a fresh id that cannot clash #}
                when s.had_earlier_person = 1
                    then {{ identity_person_id(
                        "s.seed_key || '|split|' || cast(" ~ identity_run_stamp() ~ " as varchar)"
                    ) }}
                else {{ identity_person_id('s.seed_key') }}
            end
        ) as person_id

    from component_seeds s
    left join component_heirs h
        on h.cluster_key = s.cluster_key
        and h.heir_rank = 1

),

final as (

    select
        l.node_key,
        l.id_type,
        l.id_value,
        c.person_id,
        l.graph_component_key as component_key,
        l.first_seen_at,
        l.last_seen_at,
        l.sources,
        l.record_count,
        case
            when l.earlier_person_id is not null and l.earlier_person_id <> c.person_id
                then l.earlier_person_id
            else l.earlier_previous_person_id
        end as previous_person_id,
        case
            when l.earlier_person_id is not null and l.earlier_person_id <> c.person_id
                then {{ identity_run_stamp() }}
            else l.earlier_person_changed_at
        end as person_changed_at,
        {{ identity_run_stamp() }} as resolved_at

    from labelled l
    join component_persons c on c.cluster_key = l.cluster_key

)

select * from final
