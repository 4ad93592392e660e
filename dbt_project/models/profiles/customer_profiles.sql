{#-
    One row per person: the per-person facts (int_profile_facts, incremental), the recent web
    windows, and the traits that are relative to as_of or ranked across persons (days since,
    lifecycle, RFM quintiles, CLV and its quintile, data quality score). Rebuilt in full from
    person-level tables each run: a few window functions over one row per person.

    RFM: among buyers (orders_count > 0), ntile(5) over recency (last_order_at), frequency
    (orders_count) and monetary (revenue_total); 5 is best. Ties are broken by the other two
    measures and then person_id so the scores are deterministic. Non-buyers get null scores and
    the segment 'prospect'.
-#}
{{ config(materialized='table') }}

{%- set clv_horizon_days = profile_int_var('clv_horizon_days') %}
{%- set clv_decay_days = profile_int_var('clv_decay_days') %}
{%- set clv_min_tenure_days = profile_int_var('clv_min_tenure_days') %}
{%- if clv_decay_days == 0 %}
    {{ exceptions.raise_compiler_error("customer_profiles: clv_decay_days must be > 0") }}
{%- endif %}

with

facts as (

    select * from {{ ref('int_profile_facts') }}

),

recent_activity as (

    select * from {{ ref('int_profile_recent_activity') }}

),

as_of as (

    select as_of from {{ ref('profile_as_of') }}

),

measured as {{ materialized_cte() }} (

    select
        facts.*,
        as_of.as_of,
        facts.online_orders_count + facts.store_purchases_count as orders_count,
        facts.online_revenue + facts.store_revenue as revenue_total,
        {{ dbt.datediff('facts.last_order_at', 'as_of.as_of', 'day') }} as days_since_last_order,
        {{ dbt.datediff('facts.first_order_at', 'as_of.as_of', 'day') }}
            as days_since_first_order,
        {{ dbt.datediff('facts.last_seen_at', 'as_of.as_of', 'day') }} as days_since_last_seen,
        coalesce(recent_activity.sessions_30d, 0) as sessions_30d,
        coalesce(recent_activity.page_views_30d, 0) as page_views_30d,
        coalesce(recent_activity.product_views_30d, 0) as product_views_30d,
        coalesce(recent_activity.cart_adds_30d, 0) as cart_adds_30d,
        coalesce(recent_activity.abandoned_carts_7d, 0) as abandoned_carts_7d,
        coalesce(recent_activity.abandoned_carts_30d, 0) as abandoned_carts_30d
    from facts
    cross join as_of
    left join recent_activity on recent_activity.person_id = facts.person_id

),

rfm_scored as (

    select
        person_id,
        ntile(5) over (
            order by last_order_at, orders_count, revenue_total, person_id
        ) as rfm_recency_score,
        ntile(5) over (
            order by orders_count, revenue_total, last_order_at, person_id
        ) as rfm_frequency_score,
        ntile(5) over (
            order by revenue_total, orders_count, last_order_at, person_id
        ) as rfm_monetary_score
    from measured
    where orders_count > 0

),

lifecycle as (

    select
        measured.*,
        rfm_scored.rfm_recency_score,
        rfm_scored.rfm_frequency_score,
        rfm_scored.rfm_monetary_score,
        {{ lifecycle_stage('measured.orders_count', 'measured.days_since_first_order',
                           'measured.days_since_last_order') }} as lifecycle_stage,
        case
            when measured.orders_count > 0
                then measured.revenue_total / measured.orders_count
        end as aov,
        case
            when measured.orders_count > 0
                then cast(measured.store_purchases_count as double) / measured.orders_count
        end as store_share
    from measured
    left join rfm_scored on rfm_scored.person_id = measured.person_id

),

valued as {{ materialized_cte() }} (

    select
        *,
        case
            when orders_count > 0 then
                aov
                * orders_count * 365.0
                / (case
                    when days_since_first_order > {{ clv_min_tenure_days }}
                        then days_since_first_order
                    else {{ clv_min_tenure_days }}
                end)
                * {{ clv_horizon_days }} / 365.0
                * exp(-1.0 * (case when days_since_last_order > 0
                    then days_since_last_order else 0 end) / {{ clv_decay_days }})
        end as clv_expected_future_value
    from lifecycle

),

clv_ranked as (

    select
        person_id,
        ntile(5) over (
            order by revenue_total - returns_amount + clv_expected_future_value, person_id
        ) as clv_quintile
    from valued
    where orders_count > 0

),

final as (

    select
        valued.person_id,
        valued.is_known,
        valued.user_id,
        valued.crm_id,
        valued.loyalty_id,
        valued.email,
        valued.email_is_verified,
        valued.phone,
        valued.first_name,
        valued.last_name,
        valued.name_source,
        valued.country,
        valued.emails_count,
        valued.phones_count,
        valued.devices_count,
        valued.anonymous_ids_count,
        valued.first_seen_at,
        valued.last_seen_at,
        valued.days_since_last_seen,
        valued.channels_seen,
        valued.channels_count,

        valued.events_count,
        valued.sessions_count,
        valued.page_views_count,
        valued.product_views_count,
        valued.cart_adds_count,
        valued.abandoned_carts_count,
        valued.last_session_at,
        valued.last_abandoned_cart_at,
        valued.sessions_30d,
        valued.page_views_30d,
        valued.product_views_30d,
        valued.cart_adds_30d,
        valued.abandoned_carts_7d,
        valued.abandoned_carts_30d,

        valued.orders_count,
        valued.online_orders_count,
        valued.store_purchases_count,
        valued.revenue_total,
        valued.online_revenue,
        valued.store_revenue,
        valued.aov,
        valued.returns_count,
        valued.returns_amount,
        valued.revenue_total - valued.returns_amount as net_revenue,
        valued.first_order_at,
        valued.last_order_at,
        valued.days_since_last_order,
        valued.categories_purchased,
        valued.categories_count,
        valued.favourite_category,
        valued.store_share,
        case when valued.orders_count > 0 then 1 - valued.store_share end as online_share,

        valued.rfm_recency_score,
        valued.rfm_frequency_score,
        valued.rfm_monetary_score,
        valued.rfm_recency_score + valued.rfm_frequency_score + valued.rfm_monetary_score
            as rfm_score,
        {{ rfm_segment('valued.rfm_recency_score', 'valued.rfm_frequency_score') }}
            as rfm_segment,
        case
            when valued.orders_count > 0
                then round(valued.revenue_total - valued.returns_amount
                    + valued.clv_expected_future_value, 2)
        end as clv_estimate,
        round(valued.clv_expected_future_value, 2) as clv_expected_future_value,
        clv_ranked.clv_quintile,
        valued.lifecycle_stage,

        valued.emails_sent,
        valued.email_opens,
        valued.email_clicks,
        valued.email_bounces,
        valued.last_email_engaged_at,
        valued.email_unsubscribed,

        valued.tickets_count,
        valued.open_tickets_count,
        valued.last_ticket_at,
        valued.last_ticket_sentiment,

        valued.ad_clicks_count,
        valued.ad_spend_total,
        valued.last_ad_click_at,
        valued.crm_contacts_count,

        valued.consent_email,
        valued.consent_sms,
        valued.consent_ads,
        valued.consent_analytics,
        valued.consent_updated_at,

        {{ profile_data_quality_score('valued') }} as data_quality_score,
        valued.as_of
    from valued
    left join clv_ranked on clv_ranked.person_id = valued.person_id

)

select * from final
