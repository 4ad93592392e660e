{#-
    identity_resolve_components(nodes, edges): the pre-hook of identity_graph.

    Decides which part of the graph this run must resolve, runs connected_components on it,
    and leaves two session temporary tables for the model's SELECT:
      identity_region     (node_key)                 valid nodes this run (re)assigns
      identity_cc_labels  (node_key, component_key)  components of the region's edges
    Full build: the region is every valid node. Incremental build: the region is every valid
    node loaded since the graph's last run or missing from the graph (new, or no longer
    shared because the persons it linked have merged), every graph node that has since become
    unusable (shared, invalid), and all nodes of every person those touch; then once more
    every person adjacent to that set. Edges loaded before the last run join nodes of one
    existing person, except the edges of an identifier that is usable again, whose
    neighbours' persons the second step adds; so the region's edges never leave it and its
    components equal those of a full rebuild.
    Each connected_components iteration is appended to <identity schema>.identity_cc_runs.
-#}
{%- macro identity_resolve_components(nodes, edges) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set config = identity_config() -%}
    {%- set started = modules.datetime.datetime.now() -%}
    {%- set incremental = is_incremental() -%}
    {%- if incremental -%}
        {%- do run_query("create or replace temporary table identity_region as
            with watermark as (
                select coalesce(max(resolved_at), cast('1900-01-01' as timestamp)) as resolved_at
                from " ~ this ~ "
            ),
            touched as (
                select n.node_key from " ~ nodes ~ " n
                where n.status = 'valid'
                    and n.loaded_at > (select resolved_at from watermark)
                union
                select n.node_key from " ~ nodes ~ " n
                left join " ~ this ~ " g on g.node_key = n.node_key
                where n.status = 'valid' and g.node_key is null
                union
                select g.node_key from " ~ this ~ " g
                join " ~ nodes ~ " n on n.node_key = g.node_key
                where n.status <> 'valid'
            ),
            touched_persons as (
                select distinct g.person_id from " ~ this ~ " g
                join touched t on t.node_key = g.node_key
            ),
            seed as (
                select g.node_key from " ~ this ~ " g
                join touched_persons p on p.person_id = g.person_id
                union
                select node_key from touched
            ),
            neighbours as (
                select e.dst_key as node_key from " ~ edges ~ " e
                join seed s on s.node_key = e.src_key
                where not e.is_dropped
                union
                select e.src_key from " ~ edges ~ " e
                join seed s on s.node_key = e.dst_key
                where not e.is_dropped
            ),
            neighbour_persons as (
                select distinct g.person_id from " ~ this ~ " g
                join neighbours n on n.node_key = g.node_key
            ),
            candidates as (
                select node_key from seed
                union
                select node_key from neighbours
                union
                select g.node_key from " ~ this ~ " g
                join neighbour_persons p on p.person_id = g.person_id
            )
            select c.node_key from candidates c
            join " ~ nodes ~ " n on n.node_key = c.node_key
            where n.status = 'valid'") -%}
    {%- else -%}
        {%- do run_query("create or replace temporary table identity_region as
            select node_key from " ~ nodes ~ " where status = 'valid'") -%}
    {%- endif -%}
    {%- set region_nodes = run_query("select count(*) from identity_region").columns[0].values()[0] | int -%}
    {%- set edges_sql -%}
        select e.src_key as src, e.dst_key as dst
        from {{ edges }} e
        {%- if incremental %}
        join identity_region r on r.node_key = e.src_key
        {%- endif %}
        where not e.is_dropped
    {%- endset -%}
    {%- set stats = connected_components(
        edges_sql, 'identity_cc_labels', config.max_iterations, run_label=this | string) -%}
    {%- set total_seconds = (modules.datetime.datetime.now() - started).total_seconds() -%}
    {%- do _identity_record_cc_run(stats, 'incremental' if incremental else 'full',
                                   region_nodes, total_seconds) -%}
    {{ return('') }}
{%- endmacro -%}


{%- macro _identity_record_cc_run(stats, mode, region_nodes, total_seconds) -%}
    {%- set log = this.schema ~ ".identity_cc_runs" -%}
    {%- do run_query("create table if not exists " ~ log ~ " (
        invocation_id varchar, run_started_at timestamp, mode varchar, iteration integer,
        edges bigint, hooked bigint, jumps integer, iteration_seconds double precision,
        region_nodes bigint, edge_nodes bigint, total_edges bigint, total_iterations integer,
        total_jumps integer, cc_seconds double precision, resolve_seconds double precision)") -%}
    {%- set rows = stats.per_iteration if stats.per_iteration else [
        {'iteration': 0, 'edges': 0, 'hooked': 0, 'jumps': 0, 'seconds': 0.0}] -%}
    {%- set values = [] -%}
    {%- for row in rows -%}
        {%- do values.append("('" ~ invocation_id ~ "', " ~ identity_run_stamp() ~ ", '"
            ~ mode ~ "', " ~ row.iteration ~ ", " ~ row.edges ~ ", " ~ row.hooked ~ ", "
            ~ row.jumps ~ ", " ~ row.seconds ~ ", " ~ region_nodes ~ ", " ~ stats.nodes ~ ", "
            ~ stats.edges ~ ", " ~ stats.iterations ~ ", " ~ stats.jumps ~ ", "
            ~ stats.seconds ~ ", " ~ total_seconds ~ ")") -%}
    {%- endfor -%}
    {%- do run_query("insert into " ~ log ~ " values " ~ values | join(", ")) -%}
{%- endmacro -%}
