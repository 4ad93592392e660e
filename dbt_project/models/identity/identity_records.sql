{#-
    One row per distinct combination of identifiers seen together in a source (an identify
    call, an order, a CRM contact ...), with when it was first and last seen. Collapsing
    records to combinations keeps the graph inputs small: a visitor's thousand page views
    with the same anonymous_id and device_id are one row.
    Incremental: each source's records loaded after that source's watermark are folded in.
-#}
{{
    config(
        materialized='incremental',
        unique_key='record_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{%- set id_types = identity_config().id_priority -%}
{%- set sep = "chr(31)" -%}

with

{% for src in identity_sources() %}
{{ src.source }}_records as (

    select
        '{{ src.source }}' as source,
        {%- for id_type in id_types %}
        cast({{ src.ids.get(id_type, 'null') }} as varchar) as {{ id_type }},
        {%- endfor %}
        cast({{ src.seen_at }} as timestamp) as seen_at,
        cast(coalesce({{ src.loaded_at }}, {{ src.seen_at }}) as timestamp) as loaded_at

    from {{ ref(src.model) }}

    where (
        {%- for expr in src.ids.values() %}
        {{ expr }} is not null{{ ' or' if not loop.last }}
        {%- endfor %}
    )
    {%- if is_incremental() %}
        and cast(coalesce({{ src.loaded_at }}, {{ src.seen_at }}) as timestamp) > (
            select coalesce(max(source_loaded_at), cast('1900-01-01' as timestamp))
            from {{ this }}
            where source = '{{ src.source }}'
        )
    {%- endif %}

),

{% endfor %}
new_records as (

    {%- for src in identity_sources() %}
    select * from {{ src.source }}_records
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

new_combinations as (

    select
        source,
        {%- for id_type in id_types %}
        {{ id_type }},
        {%- endfor %}
        min(seen_at) as first_seen_at,
        max(seen_at) as last_seen_at,
        max(loaded_at) as source_loaded_at,
        cast(count(*) as bigint) as record_count

    from new_records
    group by source{% for id_type in id_types %}, {{ id_type }}{% endfor %}

),

keyed as (

    select
        md5(
            source
            {%- for id_type in id_types %}
            || {{ sep }} || coalesce({{ id_type }}, '')
            {%- endfor %}
        ) as record_key,
        *

    from new_combinations

),

{% if is_incremental() %}
merged as (

    select * from keyed

    union all

    select
        record_key,
        source,
        {%- for id_type in id_types %}
        {{ id_type }},
        {%- endfor %}
        first_seen_at,
        last_seen_at,
        source_loaded_at,
        record_count

    from {{ this }}
    where record_key in (select record_key from keyed)

),

combined as (

    select
        record_key,
        source,
        {%- for id_type in id_types %}
        {{ id_type }},
        {%- endfor %}
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        max(source_loaded_at) as source_loaded_at,
        cast(sum(record_count) as bigint) as record_count

    from merged
    group by record_key, source{% for id_type in id_types %}, {{ id_type }}{% endfor %}

),
{% else %}
combined as (

    select * from keyed

),
{% endif %}

final as (

    select
        *,
        {{ identity_run_stamp() }} as identity_loaded_at

    from combined

)

select * from final
