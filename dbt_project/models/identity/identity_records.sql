{#-
    One row per distinct combination of identifiers seen together in a source (an identify
    call, an order, a CRM contact ...), with when it was first and last seen and how many
    records carried it. Collapsing records to combinations keeps the graph inputs small: a
    visitor's thousand page views with the same anonymous_id and device_id are one row.

    Incremental, with a lookback: each source's records loaded after its watermark minus var
    identity_lookback_days are read again, so rows that arrive late (a store's offline POS
    upload, whose only clock is the purchase time, older than the watermark) are folded in.
    Records already counted are not counted twice: the post-hook keeps the keys (source,
    source_record_id, loaded time) of every record inside the current lookback window in
    identity.identity_records_seen, and the next run skips those. A record later than the
    lookback is only picked up by --full-refresh, except in the sources of var
    identity_full_reread_sources (default [cmp], sources without a load time that are small):
    those are read in full every run, skipping every record already counted, so a consent
    recorded long before it reached the warehouse is folded in as a full build would
    (identity_sources() says what that costs).
-#}
{{
    config(
        materialized='incremental',
        unique_key='record_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook="{{ identity_records_remember_window() }}",
    )
}}

{%- set config = identity_config() -%}
{%- set id_types = config.id_priority -%}
{%- set sep = "chr(31)" -%}
{%- set seen = identity_records_seen_relation() if is_incremental() else none -%}
{#- sources whose every counted key is remembered: read in full, not from the lookback -#}
{%- set read_in_full = identity_records_seen_all_keys(seen) -%}

with

{% for src in identity_sources() %}
{%- set loaded = "cast(coalesce(" ~ src.loaded_at ~ ", " ~ src.seen_at ~ ") as timestamp)" %}
{{ src.source }}_records as (

    select
        '{{ src.source }}' as source,
        {%- for id_type in id_types %}
        cast({{ src.ids.get(id_type, 'null') }} as varchar) as {{ id_type }},
        {%- endfor %}
        cast({{ src.seen_at }} as timestamp) as seen_at,
        {{ loaded }} as loaded_at

    from {{ ref(src.model) }} as r

    where (
        {%- for expr in src.ids.values() %}
        {{ expr }} is not null{{ ' or' if not loop.last }}
        {%- endfor %}
    )
    {%- if is_incremental() %}
        {%- if src.source not in read_in_full %}
        and {{ loaded }} > {{ identity_lookback_start(src.source) }}
        {%- endif %}
        {%- if seen is not none %}
        and not exists (
            select 1 from {{ seen }} s
            where s.source = '{{ src.source }}'
                and s.source_record_id = cast(r.{{ src.get('key', 'source_record_id') }} as varchar)
                and s.loaded_at = {{ loaded }}
        )
        {%- endif %}
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
