-- One row per experiment and arm, from the segments' YAML (config.meta.experiments).
{%- set experiments = experiment_definitions() %}

with

{% if experiments -%}
declared as (

    {% for exp in experiments -%}
    {%- for arm in exp.arms %}
    select
        {{ experiment_literal(exp.experiment) }} as experiment,
        {{ experiment_literal(exp.segment) }} as segment,
        {{ experiment_literal(arm.arm) }} as arm,
        {{ arm.arm_order }} as arm_order,
        cast({{ arm.share }} as double) as share_percent,
        {{ 'true' if arm.is_holdout else 'false' }} as is_holdout,
        {{ arm.bucket_low }} as bucket_low,
        {{ arm.bucket_high }} as bucket_high,
        {{ experiment_literal(exp.salt) }} as salt,
        cast({{ experiment_literal(exp.start_date) }} as date) as start_date,
        {{ experiment_literal(exp.outcome) }} as outcome,
        {{ exp.window_days }} as window_days,
        {{ experiment_literal(exp.source_file) }} as declared_in
    {{ 'union all' if not loop.last }}
    {%- endfor %}
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),
{%- else -%}
declared as (

    select
        cast(null as varchar) as experiment,
        cast(null as varchar) as segment,
        cast(null as varchar) as arm,
        cast(null as integer) as arm_order,
        cast(null as double) as share_percent,
        cast(null as boolean) as is_holdout,
        cast(null as integer) as bucket_low,
        cast(null as integer) as bucket_high,
        cast(null as varchar) as salt,
        cast(null as date) as start_date,
        cast(null as varchar) as outcome,
        cast(null as integer) as window_days,
        cast(null as varchar) as declared_in
    where 1 = 0

),
{%- endif %}

final as (

    select * from declared

)

select * from final
