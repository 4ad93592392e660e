{#-
    Helpers for the delta path of int_profile_facts: a person whose only change is new records
    gets its stored row combined with the facts of those records instead of a recomputation of
    its whole history.

    profile_combine(how, computed, previous, incremental, is_delta): one output column.
        keep      the computed value (identity columns, survivorship winners: the previous
                  winner was offered to the ranking as one more candidate)
        add       counts and sums: computed + previous
        min, max  earliest / latest of both (null-safe on every warehouse)
        or        booleans that latch (unsubscribed)
        previous  the stored value for a delta person (facts the delta never recomputes, such
                  as consent: a person with a new consent record is recomputed in full)
    In a full build (incremental false) every column is the computed one.

    profile_read_records(model_name, incremental): the records of a staging model the facts are
    computed from, every column plus person_id. A full build resolves every record
    (resolve_source, resolve_consent_subjects); an incremental one joins the staging rows to
    the CTE scope_records (source, source_record_id, person_id), resolved from the index.

    profile_row_hash(columns): a 64-bit hash of the columns' values (nulls included), to tell
    whether a re-read index record changed.

    identifier_hash(id_type_sql, id_value_sql): the integer key of one identifier in
    int_identifier_records (id_hash). The lookup and everything that probes it must hash alike.

    profile_explode_list(relation, key, list_column, value_name): one row per item of a
    ', '-separated list column (as written by dbt.listagg in int_profile_facts), with the key.
-#}

{%- macro profile_combine(how, computed, previous, incremental, is_delta='computed.is_delta') -%}
    {%- if not incremental or how == 'keep' -%}
        {{ computed }}
    {%- elif how == 'add' -%}
        {{ computed }} + coalesce({{ previous }}, 0)
    {%- elif how == 'min' or how == 'max' -%}
        case
            when {{ previous }} is null then {{ computed }}
            when {{ computed }} is null then {{ previous }}
            when {{ computed }} {{ '<=' if how == 'min' else '>=' }} {{ previous }}
                then {{ computed }}
            else {{ previous }}
        end
    {%- elif how == 'or' -%}
        (coalesce({{ computed }}, false) or coalesce({{ previous }}, false))
    {%- elif how == 'previous' -%}
        case when {{ is_delta }} then {{ previous }} else {{ computed }} end
    {%- else -%}
        {{ exceptions.raise_compiler_error("profile_combine: unknown combination '" ~ how ~ "'") }}
    {%- endif -%}
{%- endmacro -%}

{%- macro profile_explode_list(relation, key, list_column, value_name) -%}
    {{ return(adapter.dispatch('profile_explode_list', 'tessera')(
        relation, key, list_column, value_name)) }}
{%- endmacro -%}

{%- macro duckdb__profile_explode_list(relation, key, list_column, value_name) -%}
    select {{ key }}, unnest(string_split({{ list_column }}, ', ')) as {{ value_name }}
    from {{ relation }}
    where {{ list_column }} is not null
{%- endmacro -%}

{%- macro default__profile_explode_list(relation, key, list_column, value_name) -%}
    select listed.{{ key }}, cast(parts.value as varchar) as {{ value_name }}
    from {{ relation }} as listed,
        lateral flatten(input => split(listed.{{ list_column }}, ', ')) as parts
    where listed.{{ list_column }} is not null
{%- endmacro -%}

{%- macro profile_read_records(model_name, incremental) -%}
    {%- if incremental -%}
    select source_rows.*, scope_records.person_id
    from {{ ref(model_name) }} as source_rows
    inner join scope_records
        on scope_records.source_record_id = source_rows.source_record_id
        and scope_records.source = '{{ model_name }}'
    {%- elif model_name == 'stg_cmp__consents' -%}
    select * from ({{ resolve_consent_subjects() }}) as resolved
    where person_id is not null
    {%- else -%}
    select * from ({{ resolve_source(model_name) }}) as resolved
    where person_id is not null
    {%- endif -%}
{%- endmacro -%}

{%- macro profile_row_hash(columns) -%}
    {{ return(adapter.dispatch('profile_row_hash', 'tessera')(columns)) }}
{%- endmacro -%}

{%- macro identifier_hash(id_type_sql, id_value_sql) -%}
    {{ profile_row_hash([id_type_sql, id_value_sql]) }}
{%- endmacro -%}

{%- macro duckdb__profile_row_hash(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro -%}

{%- macro default__profile_row_hash(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro -%}
