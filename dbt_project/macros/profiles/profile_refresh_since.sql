{#-
    profile_refresh_since(watermark_names, index, incremental): where an incremental run of
    int_profile_facts starts, read from the watermarks its stored rows keep (one query on
    `this`; index is ref('int_record_identifiers')). Returns a dict of SQL timestamps:

        since            {watermark name: the max of watermark_<name> over the table minus var
                         profile_lookback_days}
        indexed_since    the index's latest indexed_at when the table was last built
                         (max watermark_indexed)
        resolved_since   identity_graph's latest resolved_at then (max watermark_identity)
        index_rebuilt    (a boolean) the index was rebuilt after this table: its oldest
                         first_indexed_at is after watermark_indexed, so every record looks new

    In a full build, and when dbt parses the model, every timestamp is 1900-01-01 and
    index_rebuilt is false.
-#}
{%- macro profile_refresh_since(watermark_names, index, incremental) -%}
{%- set since = {} -%}
{%- for name in watermark_names -%}
    {%- do since.update({name: "cast('1900-01-01' as timestamp)"}) -%}
{%- endfor -%}
{%- set indexed_since = "cast('1900-01-01' as timestamp)" -%}
{%- set resolved_since = "cast('1900-01-01' as timestamp)" -%}
{%- set index_rebuilt = false -%}
{%- if incremental and execute -%}
    {%- set maxima_sql -%}
        select
        {%- for name in watermark_names %}
            max(watermark_{{ name }}) as {{ name }},
        {%- endfor %}
            max(watermark_indexed) as indexed,
            (select min(first_indexed_at) from {{ index }}) as index_started,
            max(watermark_identity) as identity_resolved
        from {{ this }}
    {%- endset -%}
    {%- set maxima = run_query(maxima_sql) -%}
    {%- set lookback_days = profile_int_var('profile_lookback_days') -%}
    {%- for name in watermark_names -%}
        {%- set value = maxima.columns[loop.index0].values()[0] -%}
        {%- if value is not none -%}
            {%- do since.update({name: dbt.dateadd(
                'day', -1 * lookback_days, "cast('" ~ value ~ "' as timestamp)")}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set indexed = maxima.columns[watermark_names | length].values()[0] -%}
    {%- set index_started = maxima.columns[watermark_names | length + 1].values()[0] -%}
    {%- if indexed is not none -%}
        {%- set indexed_since = "cast('" ~ indexed ~ "' as timestamp)" -%}
        {%- set index_rebuilt = index_started is not none and index_started > indexed -%}
    {%- endif -%}
    {%- set resolved = maxima.columns[watermark_names | length + 2].values()[0] -%}
    {%- if resolved is not none -%}
        {%- set resolved_since = "cast('" ~ resolved ~ "' as timestamp)" -%}
    {%- endif -%}
{%- endif -%}
{{ return({'since': since, 'indexed_since': indexed_since, 'resolved_since': resolved_since,
           'index_rebuilt': index_rebuilt}) }}
{%- endmacro -%}
