{#-
    The prediction tasks this build labelled (dbt var prediction_tasks), one row each: ml/
    reads its own copy of the definitions from dbt_project.yml and refuses to train when they
    disagree with this table (the labels would mean something else), and takes each task's
    population condition from here.
-#}
{{ config(materialized='table') }}

{%- set tasks = prediction_tasks() %}

with

tasks as (

    {%- for task in tasks %}
    select
        cast('{{ task.name }}' as varchar) as task_name,
        cast('{{ task.outcome }}' as varchar) as outcome,
        cast({{ task.horizon_days }} as integer) as horizon_days,
        cast('{{ task.population }}' as varchar) as population,
        cast('{{ task_population_sql(task) }}' as varchar) as population_sql,
        cast({{ prediction_fallback_days() }} as integer) as fallback_days,
        cast('{{ task.description | replace("'", "''") }}' as varchar) as description
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

final as (

    select * from tasks

)

select * from final
