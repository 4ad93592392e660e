{#-
    profile_web_facts(): the int_profile_facts CTEs of web behaviour from the model's CTE events:
    event_facts (event, page view, product view and cart add counts, first and last event) and
    session_facts (sessions, abandoned carts and their latest, from sessionise).
-#}
{%- macro profile_web_facts() -%}
event_facts as (

    select
        person_id,
        count(*) as events_count,
        count(case when event_type = 'page' then 1 end) as page_views_count,
        count(case when event_name = 'Product Viewed' then 1 end) as product_views_count,
        count(case when event_name = 'Product Added' then 1 end) as cart_adds_count,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at
    from events
    group by person_id

),

sessions as (

    {{ sessionise('events') }}

),

session_facts as (

    select
        person_id,
        count(*) as sessions_count,
        count(case when is_abandoned_cart then 1 end) as abandoned_carts_count,
        max(case when is_abandoned_cart then session_end end) as last_abandoned_cart_at,
        max(session_start) as last_session_at
    from sessions
    group by person_id

)
{%- endmacro -%}
