{#-
    Labels for the rows of ml_features before the scoring cutoff: what happened on or after
    the cutoff, one column per prediction task (var prediction_tasks, see
    macros/features/prediction_tasks.sql), named after the task:
      purchase  1 when the person bought (online order not cancelled, or in store) in
                [cutoff, cutoff + horizon_days), else 0
      churn     1 - the same (no purchase in the window)
      spend     revenue of the purchases in the window
    Each is null when the window is not complete by the scoring cutoff
    (observed_days < horizon_days) or the person is outside the task's population.

    Two task-free columns let ml/ label any shorter window (a horizon longer than the labelled
    history falls back to one): observed_days and days_to_next_purchase.
-#}
{{ config(materialized='table') }}

{%- set tasks = prediction_tasks() %}
{%- set longest = prediction_horizons() | max %}

with

cutoffs as (

    select cutoff_date, observed_days from {{ ref('int_feature_cutoffs') }}
    where not is_scoring_cutoff

),

population as (

    select
        features.person_id,
        features.cutoff_date,
        cutoffs.observed_days,
        {%- for task in tasks %}
        coalesce({{ task_population_sql(task, 'features') }}, false) as in_{{ task.name }},
        {%- endfor %}
        {{ dbt.dateadd('day', 'cutoffs.observed_days', 'features.cutoff_date') }}
            as scoring_cutoff
    from {{ ref('ml_features') }} as features
    inner join cutoffs on cutoffs.cutoff_date = features.cutoff_date

),

purchase_days as (

    select person_id, activity_date, orders_valid, revenue_placed
    from {{ ref('int_person_daily_activity') }}
    where orders_valid > 0

),

outcomes as (

    select
        population.person_id,
        population.cutoff_date,
        min(case
            when purchase_days.activity_date >= population.cutoff_date
                and purchase_days.activity_date < population.scoring_cutoff
                then {{ dbt.datediff('population.cutoff_date', 'purchase_days.activity_date',
                                     'day') }}
        end) as days_to_next_purchase
        {%- for task in tasks if task.outcome == 'spend' %},
        sum(case
            when purchase_days.activity_date >= population.cutoff_date
                and purchase_days.activity_date
                    < {{ dbt.dateadd('day', task.horizon_days, 'population.cutoff_date') }}
                then purchase_days.revenue_placed else 0
        end) as spend_{{ task.name }}
        {%- endfor %}
    from population
    left join purchase_days
        on purchase_days.person_id = population.person_id
        and purchase_days.activity_date >= population.cutoff_date
        and purchase_days.activity_date
            < {{ dbt.dateadd('day', longest, 'population.cutoff_date') }}
    group by population.person_id, population.cutoff_date

),

final as (

    select
        population.person_id,
        population.cutoff_date,
        population.observed_days,
        cast(outcomes.days_to_next_purchase as integer) as days_to_next_purchase
        {%- for task in tasks %},
        {%- set known = 'population.observed_days >= ' ~ task.horizon_days
            ~ ' and population.in_' ~ task.name %}
        {%- set bought = 'coalesce(outcomes.days_to_next_purchase < ' ~ task.horizon_days
            ~ ', false)' %}
        {%- if task.outcome == 'purchase' %}
        cast(case when {{ known }} then case when {{ bought }} then 1 else 0 end end
            as integer) as {{ task.name }}
        {%- elif task.outcome == 'churn' %}
        cast(case when {{ known }} then case when {{ bought }} then 0 else 1 end end
            as integer) as {{ task.name }}
        {%- else %}
        cast(case when {{ known }} then outcomes.spend_{{ task.name }} end
            as double) as {{ task.name }}
        {%- endif %}
        {%- endfor %}
    from population
    inner join outcomes
        on outcomes.person_id = population.person_id
        and outcomes.cutoff_date = population.cutoff_date

)

select * from final
