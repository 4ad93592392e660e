{#-
    A lean index of every record of the profile sources: its normalised identifiers only, one
    row per (source, source_record_id). The incremental profile refresh looks up the records of
    the persons it rebuilds here (plain columns: a fast semi-join) instead of normalising every
    staging row, then reads just those records from staging by source_record_id.

    Incremental (delete+insert on source, source_record_id): the records whose watermark
    timestamps (profile_sources; loaded_at and seen_at here) are within var
    profile_lookback_days of the source's latest indexed ones, the same rule as
    int_profile_facts: new records, late arrivals within the lookback, and updated records
    (an updated CRM contact or order may carry new identifiers).
-#}
{{ config(
    materialized='incremental',
    unique_key=['source', 'source_record_id'],
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

{%- set sources = profile_sources() %}
{%- set id_types = person_id_priority() %}
{%- set lookback_days = profile_int_var('profile_lookback_days') %}
{#- per source: the latest indexed loaded_at and seen_at, as literals so the filters below are
    plain comparisons the warehouse applies before normalising anything -#}
{%- set latest = {} %}
{%- if is_incremental() and execute %}
    {%- set rows = run_query(
        'select source, max(loaded_at), max(seen_at) from ' ~ this ~ ' group by source') %}
    {%- for row in rows.rows %}
        {%- do latest.update({row[0]: [row[1] or '1900-01-01', row[2] or '1900-01-01']}) %}
    {%- endfor %}
{%- endif %}

with

{%- for model_name, spec in sources.items() %}

{{ spec.cte }} as (

    {%- set marks = spec.watermarks.values() | list %}
    select
        '{{ model_name }}' as source,
        source_record_id,
        {%- for id_type in id_types %}
        {{ id_type if id_type in spec.id_types else 'cast(null as varchar)' }} as {{ id_type }},
        {%- endfor %}
        {{ marks[0] }} as loaded_at,
        {{ marks[-1] }} as seen_at
    from {{ ref(model_name) }}
    {%- if is_incremental() and model_name in latest %}
    where {{ marks[0] }} >= {{ dbt.dateadd('day', -1 * lookback_days,
                                           "cast('" ~ latest[model_name][0] ~ "' as timestamp)") }}
        or {{ marks[-1] }} >= {{ dbt.dateadd('day', -1 * lookback_days,
                                             "cast('" ~ latest[model_name][1] ~ "' as timestamp)") }}
    {%- endif %}

),
{%- endfor %}

final as (

    {%- for spec in sources.values() %}
    select * from {{ spec.cte }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}

)

select * from final
