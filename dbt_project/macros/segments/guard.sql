{#-
  The segment boundary inside dbt itself, so plain `dbt build` cannot skip it.

  A segment (models/segments/<name>.sql and its YAML) owns one table, segments.<name>: the
  project sets its materialization, schema and everything else; the segment only writes a
  SELECT and may use {{ ref('...') }}, {{ source('...', '...') }} and {{ var('...') }} with
  literal names. These macros raise a compilation error for anything else. They run
    * at parse time, from generate_schema_name / generate_alias_name / generate_database_name,
      which dbt calls for every node (models and tests) after merging dbt_project.yml, the
      YAML and config(), so a refused segment stops the parse and nothing is built;
    * again in the `segment` materialization (with what the segment reads, resolved), and in
      the project's overrides of the other materializations and of unit tests.
  The policy (schema, readable relations, sources) is the `segments_*` vars in dbt_project.yml;
  tessera/segments reads the same vars.
-#}

{% macro tessera_segments_prefix() -%}
    {{ return('models/' ~ var('segments_schema', 'segments') ~ '/') }}
{%- endmacro %}

{% macro tessera_in_segments(path) -%}
    {%- set path = (path or '') | replace('\\', '/') -%}
    {%- if '://' in path -%}{%- set path = path.split('://', 1)[1] -%}{%- endif -%}
    {{ return(path.startswith(tessera_segments_prefix())) }}
{%- endmacro %}

{% macro tessera_is_segment(node) -%}
    {{ return(node is not none
              and node.resource_type == 'model'
              and tessera_in_segments(node.original_file_path)) }}
{%- endmacro %}

{% macro tessera_segment_error(node, problem) -%}
    {%- set where = node.original_file_path if node is not none else 'models/segments' -%}
    {{ exceptions.raise_compiler_error(
        "segment boundary: " ~ where ~ ": " ~ problem
        ~ ". A segment owns only segments.<name>; the project sets its configuration"
        ~ " (README, Segments)."
    ) }}
{%- endmacro %}

{#- Config keys a segment's nodes may carry; the project-level values come from
    dbt_project.yml. Anything else (hooks, sql_header, grants, alias, database, location,
    contract, persist_docs, ...) is refused. -#}
{% macro tessera_segment_config_keys() -%}
    {{ return(['materialized', 'schema', 'tags', 'meta', 'docs', 'enabled', 'tmp_relation_type']) }}
{%- endmacro %}

{#- dbt itself sets a test's alias when its name is too long for a table name. -#}
{% macro tessera_segment_test_config_keys() -%}
    {{ return(['tags', 'meta', 'severity', 'enabled', 'alias']) }}
{%- endmacro %}

{#- Called for every node with the schema/alias/database it asked for. -#}
{% macro tessera_guard_node(node, custom_schema_name=none, custom_alias_name=none, custom_database_name=none) -%}
    {%- if node is none -%}{{ return(none) }}{%- endif -%}
    {%- if tessera_is_segment(node) -%}
        {%- do tessera_guard_segment_model(node, custom_schema_name, custom_alias_name, custom_database_name) -%}
    {%- elif node.resource_type == 'test' and tessera_in_segments(node.original_file_path) -%}
        {%- do tessera_guard_segment_test(node, custom_schema_name, custom_alias_name, custom_database_name) -%}
    {%- elif tessera_in_segments(node.patch_path) or tessera_in_segments(node.original_file_path) -%}
        {#- e.g. a snapshot defined in YAML there, with its own schema and hooks -#}
        {%- do tessera_segment_error(node, "a file in models/segments defines or describes "
            ~ node.resource_type ~ " " ~ node.name ~ ", which is not a segment") -%}
    {%- endif -%}
{%- endmacro %}

{% macro tessera_guard_segment_model(node, custom_schema_name, custom_alias_name, custom_database_name) -%}
    {%- set schema = var('segments_schema', 'segments') -%}
    {%- if node.language != 'sql' -%}
        {%- do tessera_segment_error(node, "segments are SQL; a " ~ node.language ~ " model is not allowed") -%}
    {%- endif -%}
    {%- if not modules.re.match('^[a-z][a-z0-9_]{0,62}$', node.name) or node.name in ['segment_membership', 'segment_sizes'] -%}
        {%- do tessera_segment_error(node, "'" ~ node.name ~ "' cannot be a segment: names are lower-case letters, digits and _ (at most 63), and segment_membership / segment_sizes are Tessera's own tables") -%}
    {%- endif -%}
    {%- if node.config_call_dict -%}
        {%- do tessera_segment_error(node, "config() in the .sql sets "
            ~ (node.config_call_dict.keys() | list | join(', ')) ~ "; a segment's configuration lives in the project") -%}
    {%- endif -%}
    {%- if custom_schema_name and custom_schema_name | trim != schema -%}
        {%- do tessera_segment_error(node, "schema '" ~ custom_schema_name ~ "' is not allowed; segments build in " ~ schema) -%}
    {%- endif -%}
    {%- if custom_alias_name -%}
        {%- do tessera_segment_error(node, "alias '" ~ custom_alias_name ~ "' is not allowed; a segment's table is named after its file") -%}
    {%- endif -%}
    {%- if custom_database_name -%}
        {%- do tessera_segment_error(node, "database '" ~ custom_database_name ~ "' is not allowed") -%}
    {%- endif -%}
    {%- do tessera_guard_segment_config(node) -%}
    {%- do tessera_guard_segment_code(node) -%}
    {%- for source in node.sources -%}
        {%- if (source | join('.')) not in var('segments_sources', []) -%}
            {%- do tessera_segment_error(node, "source('" ~ (source | join("', '")) ~ "') is not readable by segments (allowed: "
                ~ (var('segments_sources', []) | join(', ')) ~ ")") -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- The merged config: only allowed keys, with the project's values for the owned ones. -#}
{% macro tessera_guard_segment_config(node) -%}
    {%- set unrendered = node.unrendered_config or {} -%}
    {%- for key in unrendered -%}
        {%- if key | replace('-', '_') not in tessera_segment_config_keys() -%}
            {%- do tessera_segment_error(node, "config '" ~ key ~ "' is set by the project, not by a segment") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set config = node.config -%}
    {%- if config.materialized != 'segment' -%}
        {%- do tessera_segment_error(node, "materialized='" ~ config.materialized ~ "' is not allowed; segments use the project's 'segment' materialization") -%}
    {%- endif -%}
    {%- if config.get('pre_hook') or config.get('post_hook') or config.get('pre-hook') or config.get('post-hook') -%}
        {%- do tessera_segment_error(node, "pre_hook / post_hook are not allowed in a segment") -%}
    {%- endif -%}
    {%- for key in ['sql_header', 'grants', 'location', 'options', 'format', 'plugin', 'partition_by', 'persist_docs', 'contract', 'unique_key', 'incremental_strategy', 'full_refresh', 'indexes', 'alias', 'database'] -%}
        {%- set value = config.get(key) -%}
        {%- if value and not (key == 'contract' and not value.enforced) and not (key == 'persist_docs' and not value) -%}
            {%- do tessera_segment_error(node, "config '" ~ key ~ "' is set by the project, not by a segment") -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- The .sql holds one SELECT: Jinja only as {{ ref('x') }}, {{ source('a', 'b') }} or
    {{ var('x') }} with literal names (a var must be a number), comments without whitespace
    control, and no ';'. tessera/segments/jinja.py applies the same rule. -#}
{% macro tessera_guard_segment_code(node) -%}
    {%- set re = modules.re -%}
    {%- if '{#-' in (node.raw_code or '') or '-#}' in (node.raw_code or '') -%}
        {%- do tessera_segment_error(node, "Jinja whitespace control is not allowed in a segment") -%}
    {%- endif -%}
    {%- set code = re.sub('(?s)\\{#.*?#\\}', '', node.raw_code or '') -%}
    {%- set name = "\\s*(['\"])([A-Za-z_][A-Za-z0-9_]*)\\2\\s*" -%}
    {%- set allowed = "\\{\\{\\s*(ref|source|var)\\(" ~ name ~ "(?:," ~ "\\s*(['\"])([A-Za-z_][A-Za-z0-9_]*)\\4\\s*" ~ ")?\\)\\s*\\}\\}" -%}
    {%- for call in re.findall(allowed, code) -%}
        {%- if call[0] == 'var' -%}
            {%- set value = var(call[2], none) -%}
            {%- if value is none or value is string or value is mapping or (value is iterable and value is not string) or value is sameas true or value is sameas false -%}
                {%- do tessera_segment_error(node, "var('" ~ call[2] ~ "') is not a number; segments may only use numeric vars") -%}
            {%- endif -%}
        {%- elif call[0] != 'source' and call[4] -%}
            {%- do tessera_segment_error(node, call[0] ~ "() takes one name in a segment") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set rest = re.sub(allowed, '', code) -%}
    {%- for marker in ['{{', '}}', '{%', '%}', '{#', '#}'] -%}
        {%- if marker in rest -%}
            {%- do tessera_segment_error(node, "Jinja other than {{ ref('model') }}, {{ source('source', 'table') }} "
                ~ "and {{ var('name') }} is not allowed in a segment (found '" ~ marker ~ "')") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if ';' in rest -%}
        {%- do tessera_segment_error(node, "';' is not allowed in a segment: it is one SELECT") -%}
    {%- endif -%}
{%- endmacro %}

{#- Generic tests in a segment's YAML: unique, not_null, accepted_values, relationships,
    with plain arguments and no SQL-bearing config (where, fail_calc, store_failures ...). -#}
{% macro tessera_guard_segment_test(node, custom_schema_name, custom_alias_name, custom_database_name) -%}
    {%- set re = modules.re -%}
    {%- set meta = node.test_metadata -%}
    {%- if meta is none or meta.namespace or meta.name not in ['unique', 'not_null', 'accepted_values', 'relationships'] -%}
        {%- do tessera_segment_error(node, "test " ~ node.name ~ " is not allowed; segments may use unique, not_null, accepted_values and relationships") -%}
    {%- endif -%}
    {%- if custom_schema_name not in [none, '', 'dbt_test__audit'] or custom_database_name -%}
        {%- do tessera_segment_error(node, "test " ~ node.name ~ " may not set schema or database") -%}
    {%- endif -%}
    {%- for key in (node.unrendered_config or {}) -%}
        {%- if key | replace('-', '_') not in tessera_segment_test_config_keys() -%}
            {%- do tessera_segment_error(node, "test config '" ~ key ~ "' is not allowed in a segment's YAML") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if node.config.store_failures or node.config.where or node.config.sql_header -%}
        {%- do tessera_segment_error(node, "test " ~ node.name ~ " may not store failures, filter with where or set sql_header") -%}
    {%- endif -%}
    {%- set plain = '^[A-Za-z0-9_ .@:+/-]*$' -%}
    {%- for key, value in meta.kwargs.items() -%}
        {%- if key == 'model' -%}
            {%- if not re.match("^\\{\\{ get_where_subquery\\(ref\\('[a-z][a-z0-9_]*'\\)\\) \\}\\}$", value) -%}
                {%- do tessera_segment_error(node, "test " ~ node.name ~ " must test a segment") -%}
            {%- endif -%}
        {%- elif key == 'to' -%}
            {%- if not re.match("^ref\\((['\"])[A-Za-z_][A-Za-z0-9_]*\\1\\)$", value | string) -%}
                {%- do tessera_segment_error(node, "relationships 'to' must be ref('model')") -%}
            {%- endif -%}
        {%- elif key in ['column_name', 'field'] -%}
            {%- if not re.match('^[A-Za-z_][A-Za-z0-9_]*$', value | string) -%}
                {%- do tessera_segment_error(node, "test argument " ~ key ~ " must be a plain column name") -%}
            {%- endif -%}
        {%- elif key == 'values' -%}
            {%- for item in value -%}
                {%- if not re.match(plain, item | string) -%}
                    {%- do tessera_segment_error(node, "accepted_values may only hold plain words and numbers") -%}
                {%- endif -%}
            {%- endfor -%}
        {%- elif key == 'quote' -%}
            {%- if value is not sameas true and value is not sameas false -%}
                {%- do tessera_segment_error(node, "quote must be true or false") -%}
            {%- endif -%}
        {%- else -%}
            {%- do tessera_segment_error(node, "test argument '" ~ key ~ "' is not allowed") -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
