{#-
    One row per person and UTC day with any record: the grain point-in-time features are summed
    from (a day is before a date cutoff or not, never both). Sessions never cross midnight (see
    sessionise), so they belong to one day too.

    Order status is today's status (a refund or cancellation may come after a cutoff), so the
    feature columns ignore it (orders_placed, revenue_placed: every order); the label columns
    (orders_valid) drop cancelled orders, which labels may know about.
-#}
{{ config(materialized='table') }}

with

events as (

    select * from {{ ref('int_events_persons') }} where person_id is not null

),

orders as {{ materialized_cte() }} (

    select * from {{ ref('int_orders_persons') }} where person_id is not null

),

pos_purchases as (

    select * from {{ ref('int_pos_purchases_persons') }} where person_id is not null

),

email_events as (

    select * from {{ ref('int_email_events_persons') }} where person_id is not null

),

tickets as (

    select * from {{ ref('int_tickets_persons') }} where person_id is not null

),

ad_clicks as (

    select * from {{ ref('int_ad_clicks_persons') }} where person_id is not null

),

order_returns as (

    select * from {{ ref('stg_shop__returns') }}

),

sessions as (

    {{ sessionise('events') }}

),

daily_rows as (

    select
        person_id,
        session_date as activity_date,
        1 as sessions,
        page_views,
        product_views,
        cart_adds,
        case when is_abandoned_cart then 1 else 0 end as abandoned_carts,
        0 as online_orders,
        0 as orders_valid,
        0.0 as online_revenue,
        0 as store_purchases,
        0.0 as store_revenue,
        0 as returns,
        0 as emails_sent,
        0 as email_opens,
        0 as email_clicks,
        0 as tickets,
        0 as ad_clicks,
        cast(null as varchar) as country,
        cast(null as timestamp) as country_at,
        lower(channel) as channel,
        session_start as channel_at
    from sessions

    union all

    select
        person_id, cast(ordered_at as date), 0, 0, 0, 0, 0,
        1,
        case when coalesce(lower(status), '') in ('cancelled', 'canceled') then 0 else 1 end,
        coalesce(total, 0),
        0, 0.0, 0, 0, 0, 0, 0, 0,
        shipping_country,
        case when shipping_country is not null then ordered_at end,
        'shop',
        ordered_at
    from orders
    where ordered_at is not null

    union all

    select
        person_id, cast(purchased_at as date), 0, 0, 0, 0, 0,
        0, 1, 0.0,
        1, coalesce(total, 0),
        0, 0, 0, 0, 0, 0, null, null, 'store', purchased_at
    from pos_purchases
    where purchased_at is not null

    union all

    select
        orders.person_id, cast(order_returns.returned_at as date), 0, 0, 0, 0, 0,
        0, 0, 0.0, 0, 0.0,
        1, 0, 0, 0, 0, 0, null, null, null, null
    from order_returns
    inner join orders on orders.order_id = order_returns.order_id
    where order_returns.returned_at is not null

    union all

    select
        person_id, cast(occurred_at as date), 0, 0, 0, 0, 0,
        0, 0, 0.0, 0, 0.0, 0,
        case when event_type = 'sent' then 1 else 0 end,
        case when event_type = 'open' then 1 else 0 end,
        case when event_type = 'click' then 1 else 0 end,
        0, 0, null, null, 'email', occurred_at
    from email_events
    where occurred_at is not null

    union all

    select
        person_id, cast(created_at as date), 0, 0, 0, 0, 0,
        0, 0, 0.0, 0, 0.0, 0, 0, 0, 0,
        1, 0, null, null, 'support', created_at
    from tickets
    where created_at is not null

    union all

    select
        person_id, cast(clicked_at as date), 0, 0, 0, 0, 0,
        0, 0, 0.0, 0, 0.0, 0, 0, 0, 0, 0,
        1, null, null, 'ads', clicked_at
    from ad_clicks
    where clicked_at is not null

),

final as (

    select
        person_id,
        activity_date,
        cast(sum(sessions) as bigint) as sessions,
        cast(sum(page_views) as bigint) as page_views,
        cast(sum(product_views) as bigint) as product_views,
        cast(sum(cart_adds) as bigint) as cart_adds,
        cast(sum(abandoned_carts) as bigint) as abandoned_carts,
        cast(sum(online_orders) as bigint) as online_orders,
        cast(sum(store_purchases) as bigint) as store_purchases,
        cast(sum(online_orders + store_purchases) as bigint) as orders_placed,
        cast(sum(orders_valid) as bigint) as orders_valid,
        sum(online_revenue) as online_revenue,
        sum(store_revenue) as store_revenue,
        sum(online_revenue + store_revenue) as revenue_placed,
        cast(sum(returns) as bigint) as returns,
        cast(sum(emails_sent) as bigint) as emails_sent,
        cast(sum(email_opens) as bigint) as email_opens,
        cast(sum(email_clicks) as bigint) as email_clicks,
        cast(sum(tickets) as bigint) as tickets,
        cast(sum(ad_clicks) as bigint) as ad_clicks,
        {{ arg_max('country', 'country_at') }} as country,
        {{ arg_min('channel', 'channel_at') }} as first_channel
    from daily_rows
    group by person_id, activity_date

)

select * from final
