{#-
    The per-person facts (int_profile_facts, incremental) with the measures that are relative
    to as_of: days since first/last order and last seen, total orders and revenue, AOV and the
    CLV estimate. A view: a few expressions per row, cheaper to compute at read time than to
    rewrite for every person whenever as_of moves.
-#}
{{ config(materialized='view') }}

with

facts as (

    select * from {{ ref('int_profile_facts') }}

),

as_of as (

    select as_of from {{ ref('profile_as_of') }}

),

measured as (

    select
        facts.*,
        as_of.as_of,
        facts.online_orders_count + facts.store_purchases_count as orders_count,
        facts.online_revenue + facts.store_revenue as revenue_total,
        {{ dbt.datediff('facts.last_order_at', 'as_of.as_of', 'day') }} as days_since_last_order,
        {{ dbt.datediff('facts.first_order_at', 'as_of.as_of', 'day') }}
            as days_since_first_order,
        {{ dbt.datediff('facts.last_seen_at', 'as_of.as_of', 'day') }} as days_since_last_seen
    from facts
    cross join as_of

),

averaged as (

    select
        *,
        case when orders_count > 0 then revenue_total / orders_count end as aov
    from measured

),

final as (

    select
        *,
        {{ profile_clv_expected_future_value(
            'aov', 'orders_count', 'days_since_first_order', 'days_since_last_order') }}
            as clv_expected_future_value
    from averaged

)

select * from final
