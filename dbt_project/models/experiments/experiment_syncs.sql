-- Which syncs each experiment's holdout is kept out of (its `syncs`, else the segment's).
{%- set pairs = [] %}
{%- for exp in experiment_definitions() %}
{%- for sync_name in exp.syncs %}
{%- do pairs.append((exp.experiment, sync_name)) %}
{%- endfor %}
{%- endfor %}

with

declared as (

    {% for experiment, sync_name in pairs %}
    select
        {{ experiment_literal(experiment) }} as experiment,
        {{ experiment_literal(sync_name) }} as sync_name
    {{ 'union all' if not loop.last }}
    {%- else %}
    select
        cast(null as varchar) as experiment,
        cast(null as varchar) as sync_name
    where 1 = 0
    {%- endfor %}

),

final as (

    select distinct experiment, sync_name from declared

)

select * from final
