{#-
    Labels for the rows of ml_features whose cutoff has a complete purchase-label window
    (cutoff + label_purchase_days <= scoring cutoff): what happened on or after the cutoff.
      purchase_30d  1 when the person made an online order (not cancelled) or an in-store
                    purchase in [cutoff, cutoff + label_purchase_days), else 0.
      churn_90d     among persons active at the cutoff (a purchase in the label_active_days
                    before it): 1 when no purchase in [cutoff, cutoff + label_churn_days), else 0;
                    null for persons not active, and when that window is not complete yet.
-#}
{{ config(materialized='table') }}

{%- set purchase_days = profile_int_var('label_purchase_days') %}
{%- set churn_days = profile_int_var('label_churn_days') %}
{%- set active_days = profile_int_var('label_active_days') %}

with

cutoffs as (

    select * from {{ ref('int_feature_cutoffs') }}
    where purchase_label_complete

),

population as (

    select features.person_id, features.cutoff_date, cutoffs.churn_label_complete
    from {{ ref('ml_features') }} as features
    inner join cutoffs on cutoffs.cutoff_date = features.cutoff_date

),

purchase_days as (

    select person_id, activity_date, orders_placed, orders_valid
    from {{ ref('int_person_daily_activity') }}
    where orders_placed > 0

),

outcomes as (

    select
        population.person_id,
        population.cutoff_date,
        max(case
            when purchase_days.activity_date >= population.cutoff_date
                and purchase_days.activity_date
                    < {{ dbt.dateadd('day', purchase_days, 'population.cutoff_date') }}
                and purchase_days.orders_valid > 0
                then 1 else 0
        end) as purchase_30d,
        max(case
            when purchase_days.activity_date >= population.cutoff_date
                and purchase_days.activity_date
                    < {{ dbt.dateadd('day', churn_days, 'population.cutoff_date') }}
                and purchase_days.orders_valid > 0
                then 1 else 0
        end) as purchased_in_churn_window,
        max(case
            when purchase_days.activity_date < population.cutoff_date
                and purchase_days.activity_date
                    >= {{ dbt.dateadd('day', -1 * active_days, 'population.cutoff_date') }}
                then 1 else 0
        end) as was_active
    from population
    left join purchase_days on purchase_days.person_id = population.person_id
    group by population.person_id, population.cutoff_date

),

final as (

    select
        outcomes.person_id,
        outcomes.cutoff_date,
        cast(outcomes.purchase_30d as integer) as purchase_30d,
        cast(case
            when outcomes.was_active = 1 and population.churn_label_complete
                then 1 - outcomes.purchased_in_churn_window
        end as integer) as churn_90d
    from outcomes
    inner join population
        on population.person_id = outcomes.person_id
        and population.cutoff_date = outcomes.cutoff_date

)

select * from final
