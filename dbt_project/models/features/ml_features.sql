{#-
    Point-in-time features: one row per (person_id, cutoff_date) for every cutoff in
    int_feature_cutoffs and every person with a record strictly before the cutoff. Every
    feature is computed from person-days strictly before the cutoff (activity_date <
    cutoff_date), so nothing on or after the cutoff can change it. Windows are "the N days
    before the cutoff": activity_date in [cutoff - N, cutoff).

    Known limit: persons are today's identity resolution (an identifier linked after the cutoff
    merges history that was apart at the cutoff).
    Every non-key column is a feature; VARCHAR columns are categorical.

    Incremental by cutoff: a run recomputes the scoring cutoff (every person, so its RFM
    quintiles stay exact) and any cutoff not in the table yet; training cutoffs already built
    are kept as they were computed, and cutoffs no longer wanted (yesterday's scoring cutoff)
    are deleted. A full refresh (the nightly Dagster full_refresh) recomputes them all.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='cutoff_date',
    on_schema_change='fail',
    post_hook="delete from {{ this }} where cutoff_date not in
        (select cutoff_date from {{ ref('int_feature_cutoffs') }})"
) }}

with

cutoffs as (

    select cutoff_date from {{ ref('int_feature_cutoffs') }}
    {%- if is_incremental() %}
    where is_scoring_cutoff
        or cutoff_date not in (select distinct cutoff_date from {{ this }})
    {%- endif %}

),

daily as (

    select * from {{ ref('int_person_daily_activity') }}

),

category_lines as (

    select orders.person_id, cast(orders.ordered_at as date) as activity_date,
        items.category, items.line_amount as amount
    from {{ ref('stg_shop__order_items') }} as items
    inner join {{ ref('int_orders_persons') }} as orders on orders.order_id = items.order_id
    where orders.person_id is not null and items.category is not null
    union all
    select person_id, cast(purchased_at as date), category, total
    from {{ ref('int_pos_purchases_persons') }}
    where person_id is not null and category is not null

),

history as (

    select
        cutoffs.cutoff_date,
        daily.*,
        {{ dbt.datediff('daily.activity_date', 'cutoffs.cutoff_date', 'day') }} as days_before
    from cutoffs
    inner join daily on daily.activity_date < cutoffs.cutoff_date

),

aggregated as (

    select
        person_id,
        cutoff_date,
        min(activity_date) as first_seen_date,
        max(activity_date) as last_active_date,
        min(case when orders_placed > 0 then activity_date end) as first_purchase_date,
        max(case when orders_placed > 0 then activity_date end) as last_purchase_date,
        max(case when sessions > 0 then activity_date end) as last_session_date,
        sum(orders_placed) as frequency_orders,
        sum(case when orders_placed > 0 then 1 else 0 end) as purchase_days,
        sum(revenue_placed) as monetary_total,
        {{ arg_min('case when orders_placed > 0 then revenue_placed end',
                   'case when orders_placed > 0 then activity_date end') }}
            as first_purchase_revenue,
        sum(store_purchases) as store_purchases,
        sum(case when days_before <= 30 then orders_placed else 0 end) as orders_30d,
        sum(case when days_before <= 30 then revenue_placed else 0 end) as revenue_30d,
        sum(case when days_before <= 90 then orders_placed else 0 end) as orders_90d,
        sum(case when days_before <= 90 then revenue_placed else 0 end) as revenue_90d,
        sum(case when days_before <= 180 then orders_placed else 0 end) as orders_180d,
        sum(case when days_before <= 365 then orders_placed else 0 end) as orders_365d,
        sum(case when days_before <= 30 then sessions else 0 end) as sessions_30d,
        sum(case when days_before <= 90 then sessions else 0 end) as sessions_90d,
        sum(case when days_before <= 30 then page_views else 0 end) as page_views_30d,
        sum(case when days_before <= 30 then product_views else 0 end) as product_views_30d,
        sum(case when days_before <= 30 then cart_adds else 0 end) as cart_adds_30d,
        sum(case when days_before <= 30 then abandoned_carts else 0 end) as abandoned_carts_30d,
        sum(case when days_before <= 90 then emails_sent else 0 end) as emails_sent_90d,
        sum(case when days_before <= 90 then email_opens else 0 end) as email_opens_90d,
        sum(case when days_before <= 90 then email_clicks else 0 end) as email_clicks_90d,
        sum(case when days_before <= 180 then tickets else 0 end) as tickets_180d,
        sum(case when days_before <= 365 then returns else 0 end) as returns_365d,
        sum(case when days_before <= 90 then ad_clicks else 0 end) as ad_clicks_90d,
        {{ arg_max('country', 'case when country is not null then activity_date end') }}
            as country,
        {{ arg_min('first_channel', 'activity_date') }} as first_channel
    from history
    group by person_id, cutoff_date

),

category_history as (

    select
        cutoffs.cutoff_date,
        category_lines.person_id,
        category_lines.category,
        sum(coalesce(category_lines.amount, 0)) as amount
    from cutoffs
    inner join category_lines on category_lines.activity_date < cutoffs.cutoff_date
    group by cutoffs.cutoff_date, category_lines.person_id, category_lines.category

),

favourite_category as (

    select cutoff_date, person_id, category as favourite_category
    from (
        select
            *,
            row_number() over (
                partition by cutoff_date, person_id order by amount desc, category
            ) as preference
        from category_history
    ) as ranked
    where preference = 1

),

measured as {{ materialized_cte() }} (

    select
        aggregated.*,
        {{ dbt.datediff('last_purchase_date', 'cutoff_date', 'day') }} as recency_days,
        {{ dbt.datediff('first_purchase_date', 'cutoff_date', 'day') }}
            as days_since_first_purchase,
        {{ dbt.datediff('first_seen_date', 'cutoff_date', 'day') }} as days_since_first_seen,
        {{ dbt.datediff('last_active_date', 'cutoff_date', 'day') }}
            as days_since_last_activity,
        {{ dbt.datediff('last_session_date', 'cutoff_date', 'day') }}
            as days_since_last_session
    from aggregated

),

rfm_cutoffs as (

    -- the quintile cut points among buyers at each cutoff, as customer_profiles scores them
    select
        cutoff_date,
        {{ profile_quintile_cutoffs('recency_days', 'recency_days') }},
        {{ profile_quintile_cutoffs('frequency_orders', 'orders') }},
        {{ profile_quintile_cutoffs('monetary_total', 'revenue') }}
    from measured
    where frequency_orders > 0
    group by cutoff_date

),

rfm_scored as (

    select
        measured.person_id,
        measured.cutoff_date,
        {{ profile_quintile_score('measured.recency_days', 'rfm_cutoffs', 'recency_days',
                                  higher_is_better=false) }} as rfm_recency_score,
        {{ profile_quintile_score('measured.frequency_orders', 'rfm_cutoffs', 'orders') }}
            as rfm_frequency_score,
        {{ profile_quintile_score('measured.monetary_total', 'rfm_cutoffs', 'revenue') }}
            as rfm_monetary_score
    from measured
    inner join rfm_cutoffs on rfm_cutoffs.cutoff_date = measured.cutoff_date
    where measured.frequency_orders > 0

),

final as (

    select
        measured.person_id,
        measured.cutoff_date,
        measured.recency_days,
        cast(measured.frequency_orders as bigint) as frequency_orders,
        cast(measured.purchase_days as bigint) as purchase_days,
        cast(measured.monetary_total as double) as monetary_total,
        cast(measured.first_purchase_revenue as double) as first_purchase_revenue,
        case
            when measured.purchase_days > 1
                then cast(measured.days_since_first_purchase - measured.recency_days as double)
                    / (measured.purchase_days - 1)
        end as mean_days_between_purchases,
        case
            when measured.frequency_orders > 0
                then cast(measured.monetary_total / measured.frequency_orders as double)
        end as aov,
        cast(measured.orders_30d as bigint) as orders_30d,
        cast(measured.revenue_30d as double) as revenue_30d,
        cast(measured.orders_90d as bigint) as orders_90d,
        cast(measured.revenue_90d as double) as revenue_90d,
        cast(measured.orders_180d as bigint) as orders_180d,
        cast(measured.orders_365d as bigint) as orders_365d,
        cast(measured.sessions_30d as bigint) as sessions_30d,
        cast(measured.sessions_90d as bigint) as sessions_90d,
        cast(measured.page_views_30d as bigint) as page_views_30d,
        cast(measured.product_views_30d as bigint) as product_views_30d,
        cast(measured.cart_adds_30d as bigint) as cart_adds_30d,
        cast(measured.abandoned_carts_30d as bigint) as abandoned_carts_30d,
        cast(measured.emails_sent_90d as bigint) as emails_sent_90d,
        cast(measured.email_opens_90d as bigint) as email_opens_90d,
        cast(measured.email_clicks_90d as bigint) as email_clicks_90d,
        cast(measured.tickets_180d as bigint) as tickets_180d,
        cast(measured.returns_365d as bigint) as returns_365d,
        cast(measured.ad_clicks_90d as bigint) as ad_clicks_90d,
        measured.days_since_first_seen,
        measured.days_since_last_activity,
        measured.days_since_last_session,
        measured.days_since_first_purchase,
        case
            when measured.frequency_orders > 0
                then cast(measured.store_purchases as double) / measured.frequency_orders
        end as store_share,
        coalesce(rfm_scored.rfm_recency_score, 1) as rfm_recency_score,
        coalesce(rfm_scored.rfm_frequency_score, 1) as rfm_frequency_score,
        coalesce(rfm_scored.rfm_monetary_score, 1) as rfm_monetary_score,
        coalesce(rfm_scored.rfm_recency_score, 1)
            + coalesce(rfm_scored.rfm_frequency_score, 1)
            + coalesce(rfm_scored.rfm_monetary_score, 1) as rfm_score,
        {{ lifecycle_stage('measured.frequency_orders', 'measured.days_since_first_purchase',
                           'measured.recency_days') }} as lifecycle_stage,
        measured.country,
        measured.first_channel,
        favourite_category.favourite_category
    from measured
    left join rfm_scored
        on rfm_scored.person_id = measured.person_id
        and rfm_scored.cutoff_date = measured.cutoff_date
    left join favourite_category
        on favourite_category.person_id = measured.person_id
        and favourite_category.cutoff_date = measured.cutoff_date

)

select * from final
