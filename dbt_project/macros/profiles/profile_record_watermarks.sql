{#-
    profile_record_watermarks(sources, watermark_names): the int_profile_facts CTEs record_loads
    and record_watermarks: per person, the latest of each watermark expression of
    profile_sources() (sources) over their records, plus consents_recorded and
    returns_returned, as watermark_<name> (watermark_names), and last_record_at, the latest of
    them all. profile_refresh_since reads their max over the table on the next run.
-#}
{%- macro profile_record_watermarks(sources, watermark_names) -%}
record_loads as (

    {%- for model_name, spec in sources.items() %}
    {%- for name, expr in spec.watermarks.items() %}
    select person_id, '{{ name }}' as watermark, max({{ expr }}) as loaded_at
    from {{ spec.cte }}
    group by person_id
    union all
    {%- endfor %}
    {%- endfor %}
    select person_id, 'consents_recorded', max(recorded_at) from consents group by person_id
    union all
    select placed_orders.person_id, 'returns_returned', max(order_returns.returned_at)
    from order_returns
    inner join placed_orders on placed_orders.order_id = order_returns.order_id
    group by placed_orders.person_id

),

record_watermarks as (

    select
        person_id,
        max(loaded_at) as last_record_at
        {%- for name in watermark_names %},
        max(case when watermark = '{{ name }}' then loaded_at end) as watermark_{{ name }}
        {%- endfor %}
    from record_loads
    group by person_id

)
{%- endmacro -%}
