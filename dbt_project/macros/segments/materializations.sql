{#-
  The `segment` materialization: how the project builds every segment (dbt_project.yml sets
  it for models/segments). On DuckDB the SQL runs in a sandbox instance (the
  tessera_segments plugin, tessera/segments/duckdb_sandbox.py): external access disabled,
  configuration locked, memory, time and row limits, and only the readable relations present.
  On Snowflake the warehouse's grants enforce the boundary (README, Segments): the build
  checks it runs as the segments role when one is configured.
-#}

{% macro tessera_guard_segment_run(model) -%}
    {%- if not tessera_is_segment(model) -%}
        {%- do exceptions.raise_compiler_error("the segment materialization builds only models in " ~ tessera_segments_prefix()) -%}
    {%- endif -%}
    {%- do tessera_guard_segment_model(model, model.config.schema, model.config.alias, model.config.database) -%}
    {%- if this.schema | lower != var('segments_schema', 'segments') | lower or this.identifier | lower != model.name | lower -%}
        {%- do tessera_segment_error(model, "would write " ~ this ~ " instead of " ~ var('segments_schema', 'segments') ~ "." ~ model.name) -%}
    {%- endif -%}
    {%- do tessera_guard_dependencies(model) -%}
    {%- if ';' in sql -%}
        {%- do tessera_segment_error(model, "the compiled SQL holds ';': a segment is one SELECT") -%}
    {%- endif -%}
{%- endmacro %}

{#- What a segment reads, resolved by dbt: readable models and sources, and other segments. -#}
{% macro tessera_guard_dependencies(node) -%}
    {%- set readable = var('segments_readable', []) | map('lower') | list -%}
    {%- for uid in node.depends_on.nodes -%}
        {%- set parent = graph.nodes.get(uid) or graph.sources.get(uid) -%}
        {%- if parent is none -%}
            {%- do tessera_segment_error(node, "reads " ~ uid ~ ", which is not in the project") -%}
        {%- elif parent.resource_type == 'source' -%}
            {%- if tessera_in_segments(parent.original_file_path) -%}
                {%- do tessera_segment_error(node, "reads source " ~ parent.source_name ~ "." ~ parent.name ~ " declared in models/segments; sources are declared by the project") -%}
            {%- elif (parent.schema ~ '.' ~ parent.identifier) | lower not in readable -%}
                {%- do tessera_segment_error(node, "reads " ~ parent.schema ~ "." ~ parent.identifier ~ ", which segments may not read") -%}
            {%- endif -%}
        {%- elif not tessera_is_segment(parent) and (parent.schema ~ '.' ~ parent.alias) | lower not in readable -%}
            {%- do tessera_segment_error(node, "reads " ~ parent.schema ~ "." ~ parent.alias ~ ", which segments may not read") -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{% materialization segment, adapter='duckdb' %}
    {%- do tessera_guard_segment_run(model) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set request = {
        'sql': sql,
        'name': model.name,
        'segments_schema': var('segments_schema', 'segments'),
        'readable': var('segments_readable', []),
    } -%}
    {%- do adapter.store_relation('tessera_segments', target_relation, [], '', 'segment', request) -%}
    {%- call noop_statement('main', 'SEGMENT ' ~ target_relation) -%}{%- endcall -%}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{% materialization segment, adapter='snowflake' %}
    {%- do tessera_guard_segment_run(model) -%}
    {%- set role = var('segments_snowflake_role', builtins.env_var('TESSERA_SNOWFLAKE_SEGMENTS_ROLE', '')) -%}
    {%- if not role and target.name == 'snowflake_segments' -%}
        {#- the segments target always names its role (profiles.yml): hold the session to it -#}
        {%- set role = target.role or 'TESSERA_SEGMENTS' -%}
    {%- endif -%}
    {%- if role -%}
        {%- set current = run_query('select current_role()').columns[0].values()[0] -%}
        {%- if (current or '') | upper != role | upper -%}
            {%- do tessera_segment_error(model, "segments build on Snowflake only as role " ~ role
                ~ " (current role: " ~ current ~ "); use the snowflake_segments target") -%}
        {%- endif -%}
    {%- else -%}
        {%- do log("segments: no segments_snowflake_role set, so Snowflake grants do not fence " ~ model.name ~ " (README, Segments)", info=True) -%}
    {%- endif -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- call statement('main') -%}
        create or replace table {{ target_relation }} as
        select * from (
{{ sql }}
        ) as segment_rows
    {%- endcall -%}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{% materialization segment, default %}
    {%- do exceptions.raise_compiler_error("segments build on DuckDB (sandboxed) or Snowflake (grants) only, not " ~ adapter.type()) -%}
{% endmaterialization %}

{#- Every other materialization refuses a segment, should one ever reach it. -#}
{% macro tessera_refuse_segment(kind) -%}
    {%- if tessera_is_segment(model) -%}
        {%- do tessera_segment_error(model, "materialization '" ~ kind ~ "' cannot build a segment") -%}
    {%- endif -%}
{%- endmacro %}

{% materialization table, adapter='duckdb', supported_languages=['sql', 'python'] %}
    {%- do tessera_refuse_segment('table') -%}
    {{ return(dbt.materialization_table_duckdb()) }}
{% endmaterialization %}

{% materialization view, adapter='duckdb' %}
    {%- do tessera_refuse_segment('view') -%}
    {{ return(dbt.materialization_view_default()) }}
{% endmaterialization %}

{% materialization incremental, adapter='duckdb', supported_languages=['sql', 'python'] %}
    {%- do tessera_refuse_segment('incremental') -%}
    {{ return(dbt.materialization_incremental_duckdb()) }}
{% endmaterialization %}

{% materialization external, adapter='duckdb', supported_languages=['sql', 'python'] %}
    {%- do tessera_refuse_segment('external') -%}
    {{ return(dbt.materialization_external_duckdb()) }}
{% endmaterialization %}

{% materialization table_function, adapter='duckdb' %}
    {%- do tessera_refuse_segment('table_function') -%}
    {{ return(dbt.materialization_table_function_duckdb()) }}
{% endmaterialization %}

{% materialization table, adapter='snowflake', supported_languages=['sql', 'python'] %}
    {%- do tessera_refuse_segment('table') -%}
    {{ return(dbt.materialization_table_snowflake()) }}
{% endmaterialization %}

{% materialization view, adapter='snowflake' %}
    {%- do tessera_refuse_segment('view') -%}
    {{ return(dbt.materialization_view_snowflake()) }}
{% endmaterialization %}

{% materialization incremental, adapter='snowflake', supported_languages=['sql', 'python'] %}
    {%- do tessera_refuse_segment('incremental') -%}
    {{ return(dbt.materialization_incremental_snowflake()) }}
{% endmaterialization %}

{% materialization dynamic_table, adapter='snowflake' %}
    {%- do tessera_refuse_segment('dynamic_table') -%}
    {{ return(dbt.materialization_dynamic_table_snowflake()) }}
{% endmaterialization %}

{#- A data test of a segment runs in the warehouse with the project's rights, so what it reads
    is held to what the segment itself may read (a relationships test `to` a staging model
    would otherwise probe it). -#}
{% macro tessera_guard_segment_test_run() -%}
    {%- if tessera_in_segments(model.original_file_path) -%}
        {%- do tessera_guard_dependencies(model) -%}
    {%- endif -%}
{%- endmacro %}

{% materialization test, default %}
    {%- do tessera_guard_segment_test_run() -%}
    {{ return(dbt.materialization_test_default()) }}
{% endmaterialization %}

{% materialization test, adapter='snowflake' %}
    {%- do tessera_guard_segment_test_run() -%}
    {{ return(dbt.materialization_test_snowflake()) }}
{% endmaterialization %}

{#- A unit test runs the tested model's SQL outside the sandbox: none may test a segment. -#}
{% macro tessera_refuse_segment_unit_test() -%}
    {%- set tested_folder = model.fqn[1] if (model.fqn | length) > 2 else none -%}
    {%- if tessera_in_segments(model.original_file_path) or tested_folder == var('segments_schema', 'segments') -%}
        {%- do tessera_segment_error(none, "unit test " ~ model.name ~ " would run a segment's SQL outside the segment sandbox") -%}
    {%- endif -%}
{%- endmacro %}

{% materialization unit, adapter='duckdb' %}
    {%- do tessera_refuse_segment_unit_test() -%}
    {{ return(dbt.materialization_unit_default()) }}
{% endmaterialization %}

{% materialization unit, adapter='snowflake' %}
    {%- do tessera_refuse_segment_unit_test() -%}
    {{ return(dbt.materialization_unit_default()) }}
{% endmaterialization %}
