{#-
    connected_components(edges_sql, output_table, max_iterations=50, run_label='',
                         output_temporary=true, dense_ids=false)

    Exact connected components of an undirected graph, in SQL, looped from Jinja with
    run_query. Works on any adapter whose SQL has temporary tables, hash() and row_number().

    edges_sql     a SELECT returning columns `src` and `dst` (node keys of any comparable type;
                  Tessera passes 'id_type:id_value' strings). Isolated nodes need no edge:
                  the caller gives them their own component.
    output_table  table created (or replaced) with (node_key, component_key): one row per node
                  that appears in an edge; component_key (VARCHAR) is the integer id of the
                  component's root, a label shared by the component's nodes and no other.
    output_temporary  false writes a permanent table (tests, benchmarks).
    dense_ids     force the row_number id path (tests exercise it; hash ids are the default).
    Returns a dict: iterations, jumps, nodes, edges, seconds and per_iteration (a list of dicts
    with iteration, edges, hooked, jumps, seconds), so the caller can record them.

    Algorithm: minimum-label hooking with pointer jumping on a contracting graph.
      0. Nodes get integer ids in a pseudo-random order (a 64-bit hash of the key, or
         row_number over it if two keys collide), so no input order (a chain numbered end
         to end, say) is adversarial.
      1. Hook: every root with a smaller neighbour points to its smallest neighbour
         (label = min over neighbours' labels).
      2. Jump: parent = parent of parent, repeated until every hooked root points at a root
         of this round (label = label of label): chains of hooks collapse in log(length) jumps.
      3. Contract: edges are rewritten to their endpoints' new roots; edges inside a component
         disappear. Only local minima survive a round, so the graph shrinks geometrically
         (with ids in random order, two thirds of a path's roots hook per round, in
         expectation) and the number of rounds grows like log of the longest chain, not
         like its length (measured: chains of 1e3, 1e5, 1e6 edges take 7, 10, 13 rounds).
      Loop 1-3 until no root hooks. A final pointer jumping over the hook forest (depth at
      most the number of rounds) gives every node its component.
    The loop fails the run with a clear message after max_iterations rounds.
-#}

{%- macro connected_components(edges_sql, output_table, max_iterations=50, run_label='',
                                output_temporary=true, dense_ids=false) -%}
    {{ return(adapter.dispatch('connected_components', 'tessera')(
        edges_sql, output_table, max_iterations, run_label, output_temporary, dense_ids)) }}
{%- endmacro -%}

{%- macro duckdb__connected_components(edges_sql, output_table, max_iterations, run_label,
                                       output_temporary, dense_ids) -%}
    {#- DuckDB keeps temporary tables in memory (spilling if needed), which suits the loop. -#}
    {{ return(tessera_cc_loop(edges_sql, output_table, max_iterations, run_label, 'temp',
                              output_temporary, dense_ids)) }}
{%- endmacro -%}

{%- macro default__connected_components(edges_sql, output_table, max_iterations, run_label,
                                        output_temporary, dense_ids) -%}
    {#- Snowflake: session-scoped temporary tables, dropped with the session. -#}
    {{ return(tessera_cc_loop(edges_sql, output_table, max_iterations, run_label, 'temporary',
                              output_temporary, dense_ids)) }}
{%- endmacro -%}


{%- macro tessera_cc_hash(expr) -%}
    {{ return(adapter.dispatch('tessera_cc_hash', 'tessera')(expr)) }}
{%- endmacro -%}

{%- macro duckdb__tessera_cc_hash(expr) -%}
    hash({{ expr }})
{%- endmacro -%}

{%- macro default__tessera_cc_hash(expr) -%}
    {#- Snowflake's hash() is a signed 64-bit integer -#}
    hash({{ expr }})
{%- endmacro -%}

{%- macro _cc_scalar(sql) -%}
    {%- set result = run_query(sql) -%}
    {{ return(result.columns[0].values()[0] | int) }}
{%- endmacro -%}

{%- macro _cc_seconds_since(started) -%}
    {{ return((modules.datetime.datetime.now() - started).total_seconds()) }}
{%- endmacro -%}

{%- macro _cc_jump_until_rooted(create, table, generation) -%}
    {#- parent = parent of parent until no parent is itself in `table`; returns (table, jumps) -#}
    {%- set state = {'table': table, 'jumps': 0, 'done': false} -%}
    {%- for step in range(64) -%}
        {%- if not state.done -%}
            {%- set pending = _cc_scalar("select count(*) from " ~ state.table ~ " h
                join " ~ state.table ~ " p on h.parent = p.id") -%}
            {%- if pending == 0 -%}
                {%- do state.update({'done': true}) -%}
            {%- else -%}
                {%- set next_table = table ~ "_" ~ generation ~ "_" ~ step -%}
                {%- do run_query(create ~ next_table ~ " as
                    select h.id, coalesce(p.parent, h.parent) as parent
                    from " ~ state.table ~ " h
                    left join " ~ state.table ~ " p on h.parent = p.id") -%}
                {%- if state.table != table -%}
                    {%- do run_query("drop table if exists " ~ state.table) -%}
                {%- endif -%}
                {%- do state.update({'table': next_table, 'jumps': state.jumps + 1}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(state) }}
{%- endmacro -%}

{%- macro tessera_cc_loop(edges_sql, output_table, max_iterations, run_label, temp_kw,
                          output_temporary=true, dense_ids=false) -%}
    {%- set max_iterations = max_iterations | int -%}
    {%- if max_iterations < 1 -%}
        {{ exceptions.raise_compiler_error(
            "connected_components: max_iterations must be at least 1, got "
            ~ max_iterations ~ " (var identity_max_iterations)") }}
    {%- endif -%}
    {%- set started = modules.datetime.datetime.now() -%}
    {%- set create = "create or replace " ~ temp_kw ~ " table " -%}

    {#- Input edges, and integer node ids: a 64-bit hash of the key (pseudo-random order, so
        no input numbering is adversarial). If two keys ever share a hash (or dense_ids is
        set), ids are row_number over the hash instead, which is exact. -#}
    {%- do run_query(create ~ "tessera_cc_input as select src, dst from (" ~ edges_sql ~ ") e"
        ~ " where src is not null and dst is not null and src <> dst") -%}
    {%- do run_query(create ~ "tessera_cc_keys as
        select node_key, " ~ tessera_cc_hash('node_key') ~ " as id
        from (select src as node_key from tessera_cc_input
              union select dst from tessera_cc_input) k") -%}
    {%- set node_count = _cc_scalar("select count(*) from tessera_cc_keys") -%}
    {%- set distinct_ids = _cc_scalar("select count(distinct id) from tessera_cc_keys") -%}
    {%- if distinct_ids == node_count and not dense_ids -%}
        {%- do run_query(create ~ "tessera_cc_edges_0 as
            select " ~ tessera_cc_hash('src') ~ " as a, " ~ tessera_cc_hash('dst') ~ " as b
            from tessera_cc_input
            union all
            select " ~ tessera_cc_hash('dst') ~ ", " ~ tessera_cc_hash('src') ~ "
            from tessera_cc_input") -%}
    {%- else -%}
        {%- do run_query(create ~ "tessera_cc_keys as
            select node_key, row_number() over (order by id, node_key) as id
            from tessera_cc_keys") -%}
        {%- do run_query(create ~ "tessera_cc_mapped as
            select ks.id as a, kd.id as b
            from tessera_cc_input e
            join tessera_cc_keys ks on e.src = ks.node_key
            join tessera_cc_keys kd on e.dst = kd.node_key") -%}
        {%- do run_query(create ~ "tessera_cc_edges_0 as
            select a, b from tessera_cc_mapped
            union all
            select b, a from tessera_cc_mapped") -%}
        {%- do run_query("drop table if exists tessera_cc_mapped") -%}
    {%- endif -%}
    {%- do run_query("drop table if exists tessera_cc_input") -%}
    {%- do run_query(create ~ "tessera_cc_forest as
        select id, id as parent from tessera_cc_keys where 1 = 0") -%}
    {%- set edge_count = _cc_scalar("select count(*) from tessera_cc_edges_0") // 2 -%}

    {%- set per_iteration = [] -%}
    {%- set state = {'iterations': 0, 'jumps': 0, 'converged': false,
                     'edges': 'tessera_cc_edges_0', 'edge_count': edge_count} -%}
    {#- Jinja has no while: a bounded for loop that stops working once converged. -#}
    {%- for iteration in range(1, max_iterations + 2) -%}
        {%- if not state.converged -%}
            {%- if iteration > max_iterations -%}
                {{ exceptions.raise_compiler_error(
                    "connected_components" ~ (" (" ~ run_label ~ ")" if run_label else "")
                    ~ ": no convergence after " ~ max_iterations ~ " iterations; "
                    ~ state.edge_count ~ " edges between different components remain. Raise "
                    ~ "var identity_max_iterations or look for a runaway graph.") }}
            {%- endif -%}
            {%- set round_started = modules.datetime.datetime.now() -%}
            {#- 1. hook every root onto its smallest neighbouring root -#}
            {%- set hook = "tessera_cc_hook_" ~ iteration -%}
            {%- do run_query(create ~ hook ~ " as
                select a as id, min(b) as parent from " ~ state.edges ~ "
                group by a having min(b) < a") -%}
            {%- set hooked = _cc_scalar("select count(*) from " ~ hook) -%}
            {%- if hooked == 0 -%}
                {%- do state.update({'converged': true}) -%}
                {%- do run_query("drop table if exists " ~ hook) -%}
            {%- else -%}
                {#- 2. pointer jumping: every hooked root ends on a root of this round -#}
                {%- set jumped = _cc_jump_until_rooted(create, hook, iteration) -%}
                {#- 3. contract: edges move to their new roots; edges inside a root vanish -#}
                {%- do run_query("insert into tessera_cc_forest select id, parent from "
                    ~ jumped.table) -%}
                {%- set next_edges = "tessera_cc_edges_" ~ iteration -%}
                {%- do run_query(create ~ next_edges ~ " as
                    select distinct a, b from (
                        select coalesce(ha.parent, e.a) as a, coalesce(hb.parent, e.b) as b
                        from " ~ state.edges ~ " e
                        left join " ~ jumped.table ~ " ha on e.a = ha.id
                        left join " ~ jumped.table ~ " hb on e.b = hb.id
                    ) c
                    where a <> b") -%}
                {%- do run_query("drop table if exists " ~ state.edges) -%}
                {%- do run_query("drop table if exists " ~ jumped.table) -%}
                {%- do run_query("drop table if exists " ~ hook) -%}
                {%- do per_iteration.append({
                    'iteration': iteration, 'edges': state.edge_count, 'hooked': hooked,
                    'jumps': jumped.jumps, 'seconds': _cc_seconds_since(round_started)}) -%}
                {%- do state.update({
                    'iterations': iteration, 'jumps': state.jumps + jumped.jumps,
                    'edges': next_edges,
                    'edge_count': _cc_scalar("select count(*) from " ~ next_edges) // 2}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do run_query("drop table if exists " ~ state.edges) -%}

    {#- Final pointer jumping over the hook forest: its depth is at most the round count. -#}
    {%- set final = _cc_jump_until_rooted(create, 'tessera_cc_forest', 'final') -%}
    {%- set output_create = create if output_temporary else "create or replace table " -%}
    {%- do run_query(output_create ~ output_table ~ " as
        select k.node_key, cast(coalesce(f.parent, k.id) as varchar) as component_key
        from tessera_cc_keys k
        left join " ~ final.table ~ " f on k.id = f.id") -%}
    {%- for name in ['tessera_cc_keys', 'tessera_cc_forest', final.table] -%}
        {%- do run_query("drop table if exists " ~ name) -%}
    {%- endfor -%}
    {{ return({
        'iterations': state.iterations,
        'jumps': state.jumps + final.jumps,
        'nodes': node_count,
        'edges': edge_count,
        'seconds': _cc_seconds_since(started),
        'per_iteration': per_iteration,
    }) }}
{%- endmacro -%}
