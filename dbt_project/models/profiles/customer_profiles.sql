{#-
    One row per person: the per-person facts and as_of-relative measures
    (int_profile_measures over the incremental int_profile_facts), the recent web windows, and
    the traits scored across persons: RFM and CLV quintiles against this build's cut points
    (int_profile_score_cutoffs), lifecycle stage, RFM segment and data quality score.

    A view: every trait here is a few expressions per row over stored tables, so a refresh
    never rewrites a row per person because as_of moved or the quintile cut points shifted.

    RFM, among buyers (orders_count > 0): recency scores days_since_last_order (5 = most
    recent), frequency orders_count and monetary revenue_total (5 = most). A score is 1 + the
    number of the measure's quintile cut points (20th..80th percentiles among buyers) the value
    is beyond, so equal values share a score. Non-buyers get null scores and the segment
    'prospect'.
-#}
{{ config(materialized='view') }}

with

measures as (

    select * from {{ ref('int_profile_measures') }}

),

recent_activity as (

    select * from {{ ref('int_profile_recent_activity') }}

),

cutoffs as (

    select * from {{ ref('int_profile_score_cutoffs') }}

),

valued as (

    select
        measures.*,
        coalesce(recent_activity.sessions_30d, 0) as sessions_30d,
        coalesce(recent_activity.page_views_30d, 0) as page_views_30d,
        coalesce(recent_activity.product_views_30d, 0) as product_views_30d,
        coalesce(recent_activity.cart_adds_30d, 0) as cart_adds_30d,
        coalesce(recent_activity.abandoned_carts_7d, 0) as abandoned_carts_7d,
        coalesce(recent_activity.abandoned_carts_30d, 0) as abandoned_carts_30d,
        case
            when measures.orders_count > 0
                then cast(measures.store_purchases_count as double) / measures.orders_count
        end as store_share,
        case
            when measures.orders_count > 0 then
                {{ profile_quintile_score('measures.days_since_last_order', 'cutoffs',
                                          'recency_days', higher_is_better=false) }}
        end as rfm_recency_score,
        case
            when measures.orders_count > 0 then
                {{ profile_quintile_score('measures.orders_count', 'cutoffs', 'orders') }}
        end as rfm_frequency_score,
        case
            when measures.orders_count > 0 then
                {{ profile_quintile_score('measures.revenue_total', 'cutoffs', 'revenue') }}
        end as rfm_monetary_score,
        case
            when measures.orders_count > 0 then
                {{ profile_quintile_score(
                    'measures.revenue_total - measures.returns_amount'
                    ~ ' + measures.clv_expected_future_value', 'cutoffs', 'clv') }}
        end as clv_quintile,
        {{ lifecycle_stage('measures.orders_count', 'measures.days_since_first_order',
                           'measures.days_since_last_order') }} as lifecycle_stage
    from measures
    cross join cutoffs
    left join recent_activity on recent_activity.person_id = measures.person_id

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
        valued.clv_quintile,
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

)

select * from final
