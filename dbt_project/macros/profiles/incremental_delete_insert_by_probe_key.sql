{#-
    Incremental strategy 'delete_insert_by_probe_key': delete+insert on unique_key, where the
    rows to delete are first narrowed by an integer column (config probe_key, a hash of
    unique_key) and only those are compared on unique_key itself.

    The built-in delete+insert compares (source, source_record_id) for every row of the
    target: at 25M index rows that is a scan of two string columns, ~0.8 s per run on
    DuckDB. Probing the integer first (a semi-join the warehouse applies while scanning)
    reads the strings of the few matching rows only (~0.15 s). The second condition keeps the
    delete exact: a probe_key collision between two different records deletes neither.
    unique_key columns must be text, non-null, and not contain '|' except in the last one.
-#}
{%- macro get_incremental_delete_insert_by_probe_key_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- set probe_key = config.get('probe_key') -%}
    {%- if not probe_key or not unique_key -%}
        {{ exceptions.raise_compiler_error(
            "incremental_strategy 'delete_insert_by_probe_key' needs unique_key and probe_key ("
            ~ this ~ ")") }}
    {%- endif -%}
    {%- set unique_key = [unique_key] if unique_key is string else unique_key -%}
    {%- set exact_key = unique_key | join(" || '|' || ") -%}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}

    delete from {{ target }}
    where {{ probe_key }} in (select {{ probe_key }} from {{ source }})
        and {{ exact_key }} in (select {{ exact_key }} from {{ source }});

    insert into {{ target }} ({{ dest_cols_csv }})
    (
        select {{ dest_cols_csv }}
        from {{ source }}
    )
{%- endmacro -%}
