{#-
    identity_resolve_components(nodes, edges): the pre-hook of identity_graph.

    Decides which part of the graph this run must resolve, resolves it, and leaves two
    session temporary tables for the model's SELECT:
      identity_region    (node_key)                              valid nodes this run assigns
      identity_resolved  (node_key, component_key, cluster_key)  for region nodes with edges:
                         component_key  the connected component of the kept edges
                         cluster_key    the person: the component, or one part of it where
                                        the person limits split it

    1. Strong groups: connected components of the class 0-1 edges (strong identifiers) that
       are corroborated (var identity_corroborate_joins: two records, or two sources).
    2. Components: connected components of the other edges (devices, cookies, single
       records) over the strong groups, contracted to one node each (two passes cost one).
    3. A component is one person unless it breaks a limit: more identifiers of a type than
       var identity_person_limits allows, or (var identity_weak_ids_join_persons false) more
       than one strong group, joined only through devices and cookies. Those components are
       split by identity_agglomerate (below), which records every edge it cuts.

    Region. Full build: every valid node. Incremental build: every node of the previous
    components (identity_graph.component_key) that contain a seed, and the seeds: valid nodes
    loaded since the graph's last run or missing from it, graph nodes no longer valid (or no
    longer in any record: deleted upstream), and the
    ends of every kept edge that appeared or disappeared since the last run (the kept edges
    are remembered in identity.identity_graph_edges: a hub found, a number recycled, a rule
    changed). An edge that was kept before and still is joins nodes of one previous
    component, so the region's edges never leave it and its components and persons equal
    those of a full build. A change of the person rules (limits, priority) resolves
    everything again: the rules' fingerprint is kept with the edges.
    Every connected_components iteration is appended to <identity schema>.identity_cc_runs.
-#}
{%- macro identity_resolve_components(nodes, edges) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set config = identity_config() -%}
    {%- set started = modules.datetime.datetime.now() -%}
    {%- set state = this.schema ~ ".identity_graph_edges" -%}
    {%- set fingerprint = identity_rules_fingerprint(config) -%}
    {%- set incremental = is_incremental() and _identity_state_matches(state, fingerprint) -%}
    {%- if incremental -%}
        {%- do run_query("create or replace temporary table identity_region as
            with watermark as (
                select coalesce(max(resolved_at), cast('1900-01-01' as timestamp)) as resolved_at
                from " ~ this ~ "
            ),
            kept as (
                select src_key, dst_key from " ~ edges ~ " where not is_dropped
            ),
            changed_edges as (
                select src_key, dst_key from kept
                except
                select src_key, dst_key from " ~ state ~ "
                union all
                (select src_key, dst_key from " ~ state ~ "
                 except
                 select src_key, dst_key from kept)
            ),
            seeds as (
                select n.node_key from " ~ nodes ~ " n
                where n.status = 'valid'
                    and n.loaded_at > (select resolved_at from watermark)
                union
                select n.node_key from " ~ nodes ~ " n
                left join " ~ this ~ " g on g.node_key = n.node_key
                where n.status = 'valid' and g.node_key is null
                union
                select g.node_key from " ~ this ~ " g
                left join " ~ nodes ~ " n on n.node_key = g.node_key and n.status = 'valid'
                where n.node_key is null
                union
                select src_key from changed_edges
                union
                select dst_key from changed_edges
            ),
            touched_components as (
                select distinct g.component_key from " ~ this ~ " g
                join seeds s on s.node_key = g.node_key
            ),
            candidates as (
                select node_key from seeds
                union
                select g.node_key from " ~ this ~ " g
                join touched_components c on c.component_key = g.component_key
            )
            select c.node_key from candidates c
            join " ~ nodes ~ " n on n.node_key = c.node_key
            where n.status = 'valid'") -%}
    {%- else -%}
        {%- do run_query("create or replace temporary table identity_region as
            select node_key from " ~ nodes ~ " where status = 'valid'") -%}
    {%- endif -%}
    {%- set region_nodes = run_query("select count(*) from identity_region").columns[0].values()[0] | int -%}
    {#- an account id's edge vouches for itself (an account or CRM record asserting its
        email or phone) unless it is to a phone seen only on orders (var
        identity_order_sources): an order's phone may be a gift recipient's shipping number,
        its email is the buyer's receipt address. An edge seen in two sources is
        corroborated anyway, so 'only there' is its sources being one of them -#}
    {%- set account_types = "('" ~ (config.account_id_types or ['none']) | join("', '") ~ "')" -%}
    {%- set account_asserted -%}
        ((split_part(e.src_key, ':', 1) in {{ account_types }}
            or split_part(e.dst_key, ':', 1) in {{ account_types }})
        {%- if config.order_sources %}
            and not (e.sources in ('{{ config.order_sources | join("', '") }}')
                and 'phone' in (split_part(e.src_key, ':', 1), split_part(e.dst_key, ':', 1)))
        {%- endif %})
    {%- endset -%}
    {%- do run_query("create or replace temporary table identity_region_edges as
        select
            e.src_key, e.dst_key, e.edge_class, e.source_count, e.record_count,
            e.first_seen_at, e.last_seen_at,
            " ~ account_asserted ~ " as account_asserted,
            e.edge_class = 0 or e.record_count >= 2 or e.source_count >= 2
                or " ~ account_asserted ~ " as corroborated
        from " ~ edges ~ " e
        " ~ ("join identity_region r on r.node_key = e.src_key" if incremental else "") ~ "
        where not e.is_dropped") -%}

    {#- 1. strong groups; 2. components over the contracted strong groups -#}
    {%- set strong_stats = connected_components(
        "select src_key as src, dst_key as dst from identity_region_edges
         where edge_class <= 1" ~ (" and corroborated" if config.corroborate_joins else ""),
        'identity_cc_strong', config.max_iterations, run_label=this | string) -%}
    {%- set weak_stats = connected_components(
        "select coalesce(a.component_key, e.src_key) as src,
                coalesce(b.component_key, e.dst_key) as dst
         from identity_region_edges e
         left join identity_cc_strong a on a.node_key = e.src_key
         left join identity_cc_strong b on b.node_key = e.dst_key
         where e.edge_class >= 2" ~ (" or not e.corroborated" if config.corroborate_joins else ""),
        'identity_cc_weak', config.max_iterations, run_label=this | string) -%}
    {%- do run_query("create or replace temporary table identity_region_nodes as
        select
            r.node_key,
            split_part(r.node_key, ':', 1) as id_type,
            coalesce(s.component_key, r.node_key) as group_key,
            coalesce(w.component_key, s.component_key, r.node_key) as component_key,
            case when m.dst_key is null then 1 else 0 end as limit_weight
        from identity_region r
        left join identity_cc_strong s on s.node_key = r.node_key
        left join identity_cc_weak w on w.node_key = coalesce(s.component_key, r.node_key)
        left join (
            select distinct dst_key from identity_region_edges where edge_class = 0
        ) m on m.dst_key = r.node_key") -%}

    {#- 3. components that break a limit -#}
    {%- set limited = [] -%}
    {%- for id_type, limit in config.person_limits.items() if limit is not none -%}
        {%- do limited.append((id_type, limit)) -%}
    {%- endfor -%}
    {%- set strong_list = "'" ~ config.strong_id_types | join("', '") ~ "'" -%}
    {%- do run_query("create or replace temporary table identity_split_components as
        select component_key
        from identity_region_nodes
        group by component_key
        having false
        " ~ ("" if config.weak_ids_join_persons else
             "or count(distinct case when id_type in (" ~ strong_list ~ ") then group_key end) > 1") ~ "
        " ~ _identity_over_limits_sql(limited, 'count') ) -%}
    {%- set split_components = run_query(
        "select count(*) from identity_split_components").columns[0].values()[0] | int -%}
    {%- set agglomeration = identity_agglomerate(config, limited, split_components) -%}

    {%- do run_query("create or replace temporary table identity_resolved as
        select
            n.node_key,
            n.component_key,
            coalesce(a.cluster_key, n.component_key) as cluster_key
        from identity_region_nodes n
        left join tessera_agg_nodes a on a.node_key = n.node_key") -%}
    {%- for name in ['identity_cc_strong', 'identity_cc_weak', 'identity_region_edges',
                     'identity_region_nodes', 'tessera_agg_nodes'] -%}
        {%- do run_query("drop table if exists " ~ name) -%}
    {%- endfor -%}
    {%- do _identity_store_cuts(incremental) -%}

    {%- set stats = {
        'iterations': strong_stats.iterations + weak_stats.iterations,
        'jumps': strong_stats.jumps + weak_stats.jumps,
        'nodes': strong_stats.nodes + weak_stats.nodes,
        'edges': strong_stats.edges + weak_stats.edges,
        'seconds': strong_stats.seconds + weak_stats.seconds,
        'per_iteration': strong_stats.per_iteration + weak_stats.per_iteration,
    } -%}
    {%- set total_seconds = (modules.datetime.datetime.now() - started).total_seconds() -%}
    {%- do _identity_record_cc_run(stats, 'incremental' if incremental else 'full',
                                   region_nodes, total_seconds, split_components,
                                   agglomeration.rounds, agglomeration.cuts) -%}
    {{ return('') }}
{%- endmacro -%}


{%- macro _identity_over_limits_sql(limited, count_expr) -%}
    {#- `or <count of the type> > limit` for each limited type: a HAVING tail. Other spellings
        of one mailbox weigh nothing (limit_weight 0): a limit counts mailboxes. -#}
    {%- for id_type, limit in limited %}
        or sum(case when id_type = '{{ id_type }}' then limit_weight else 0 end) > {{ limit }}
    {%- endfor %}
{%- endmacro -%}


{%- macro identity_rules_fingerprint(config) -%}
    {#- what the person rules are: a change resolves every component again. rules_version
        counts changes to the rules' code (24b4b13: the second identifier in use; 3: in use
        means seen over overlapping times, not only before and after; 4: an account id's
        edge to a phone seen only on orders is not vouched for), so an
        upgraded warehouse's next incremental run resolves its persons again too -#}
    {{ return(local_md5(tojson({
        'rules_version': 4,
        'id_priority': config.id_priority, 'strong_id_types': config.strong_id_types,
        'person_limits': config.person_limits,
        'weak_ids_join_persons': config.weak_ids_join_persons,
        'corroborate_joins': config.corroborate_joins,
        'contested_min_persons': config.contested_min_persons,
        'account_id_types': config.account_id_types,
        'order_sources': config.order_sources}))) }}
{%- endmacro -%}


{%- macro _identity_state_matches(state, fingerprint) -%}
    {#- true when the kept edges of the last run are remembered under the same rules -#}
    {%- set relation = adapter.get_relation(database=this.database, schema=this.schema,
                                            identifier='identity_graph_edges') -%}
    {%- if relation is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = run_query("select count(*) from " ~ state ~ " where rules_fingerprint = '"
                              ~ fingerprint ~ "'").columns[0].values()[0] | int -%}
    {%- set total = run_query("select count(*) from " ~ state).columns[0].values()[0] | int -%}
    {{ return(found == total) }}
{%- endmacro -%}


{%- macro identity_remember_kept_edges() -%}
    {#- post-hook of identity_graph: the kept edges this run resolved, for the next run's
        diff, with the person rules' fingerprint (an empty graph still records the rules) -#}
    {%- set relation = api.Relation.create(database=this.database, schema=this.schema,
                                           identifier='identity_graph_edges') -%}
    create or replace table {{ relation }} as
    select
        src_key,
        dst_key,
        '{{ identity_rules_fingerprint(identity_config()) }}' as rules_fingerprint
    from {{ ref('identity_edges') }}
    where not is_dropped
{%- endmacro -%}


{%- macro _identity_store_cuts(incremental) -%}
    {#- identity.identity_limit_cuts: every edge the person limits cut, kept for the nodes
        this run did not resolve (incremental) and replaced for those it did -#}
    {%- set log = this.schema ~ ".identity_limit_cuts" -%}
    {%- do run_query("create table if not exists " ~ log ~ " (
        src_key varchar, dst_key varchar, reason varchar, detail varchar,
        component_key varchar, cut_at timestamp)") -%}
    {%- if incremental -%}
        {%- do run_query("delete from " ~ log ~ " where src_key in (select node_key from identity_region)
            or dst_key in (select node_key from identity_region)") -%}
    {%- else -%}
        {%- do run_query("delete from " ~ log) -%}
    {%- endif -%}
    {%- do run_query("insert into " ~ log ~ "
        select src_key, dst_key, reason, detail, component_key, " ~ identity_run_stamp() ~ "
        from tessera_agg_cuts") -%}
    {%- do run_query("drop table if exists tessera_agg_cuts") -%}
{%- endmacro -%}


{%- macro _identity_record_cc_run(stats, mode, region_nodes, total_seconds,
                                  split_components=0, agglomeration_rounds=0, limit_cuts=0) -%}
    {%- set log = this.schema ~ ".identity_cc_runs" -%}
    {%- do run_query("create table if not exists " ~ log ~ " (
        invocation_id varchar, run_started_at timestamp, mode varchar, iteration integer,
        edges bigint, hooked bigint, jumps integer, iteration_seconds double precision,
        region_nodes bigint, edge_nodes bigint, total_edges bigint, total_iterations integer,
        total_jumps integer, cc_seconds double precision, resolve_seconds double precision)") -%}
    {#- columns added later: a warehouse that logged runs before has them added -#}
    {%- for column, type in [('split_components', 'bigint'), ('agglomeration_rounds', 'integer'),
                             ('limit_cuts', 'bigint')] -%}
        {%- do run_query("alter table " ~ log ~ " add column if not exists " ~ column ~ " "
                         ~ type) -%}
    {%- endfor -%}
    {%- set rows = stats.per_iteration if stats.per_iteration else [
        {'iteration': 0, 'edges': 0, 'hooked': 0, 'jumps': 0, 'seconds': 0.0}] -%}
    {%- set values = [] -%}
    {%- for row in rows -%}
        {%- do values.append("('" ~ invocation_id ~ "', " ~ identity_run_stamp() ~ ", '"
            ~ mode ~ "', " ~ loop.index ~ ", " ~ row.edges ~ ", " ~ row.hooked ~ ", "
            ~ row.jumps ~ ", " ~ row.seconds ~ ", " ~ region_nodes ~ ", " ~ stats.nodes ~ ", "
            ~ stats.edges ~ ", " ~ stats.iterations ~ ", " ~ stats.jumps ~ ", "
            ~ stats.seconds ~ ", " ~ total_seconds ~ ", " ~ split_components ~ ", "
            ~ agglomeration_rounds ~ ", " ~ limit_cuts ~ ")") -%}
    {%- endfor -%}
    {%- do run_query("insert into " ~ log ~ " (invocation_id, run_started_at, mode, iteration,
        edges, hooked, jumps, iteration_seconds, region_nodes, edge_nodes, total_edges,
        total_iterations, total_jumps, cc_seconds, resolve_seconds, split_components,
        agglomeration_rounds, limit_cuts) values " ~ values | join(", ")) -%}
{%- endmacro -%}
