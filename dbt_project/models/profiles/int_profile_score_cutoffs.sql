{#-
    One row: the quintile cut points (20th/40th/60th/80th percentiles among buyers) that
    customer_profiles scores RFM and CLV against (macros profile_quintile_cutoffs and
    profile_quintile_score). Recency is measured in whole days since the last order, so buyers
    of the same day share a recency score. Rebuilt every run: one aggregate over the buyers.
-#}
{{ config(materialized='table') }}

with

buyers as (

    select
        days_since_last_order,
        orders_count,
        revenue_total,
        revenue_total - returns_amount + clv_expected_future_value as clv_estimate
    from {{ ref('int_profile_measures') }}
    where orders_count > 0

),

final as (

    select
        count(*) as buyers_count,
        {{ profile_quintile_cutoffs('days_since_last_order', 'recency_days') }},
        {{ profile_quintile_cutoffs('orders_count', 'orders') }},
        {{ profile_quintile_cutoffs('revenue_total', 'revenue') }},
        {{ profile_quintile_cutoffs('clv_estimate', 'clv') }}
    from buyers

)

select * from final
