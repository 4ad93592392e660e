{#-
    dbt run-operation run_connected_components --args
        '{edges_table: main.edges, output_table: main.components}'

    Components of a persisted edge table (columns src, dst) into a persisted output table, for
    tests and benchmarks of the macro on its own. Prints the run's figures as one JSON line
    prefixed with CC_STATS so callers can parse them from dbt's output.
-#}
{%- macro run_connected_components(edges_table, output_table, max_iterations=none,
                                   dense_ids=false) -%}
    {%- set cap = max_iterations if max_iterations is not none
        else identity_config().max_iterations -%}
    {%- set stats = connected_components(
        "select src, dst from " ~ edges_table, output_table, cap,
        run_label='run-operation on ' ~ edges_table, output_temporary=false,
        dense_ids=dense_ids) -%}
    {%- do adapter.commit() -%}
    {%- do print("CC_STATS " ~ tojson(stats)) -%}
{%- endmacro -%}
