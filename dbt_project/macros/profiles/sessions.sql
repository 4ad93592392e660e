{#-
    sessionise(events): web/app sessions of resolved events.

    `events` is a relation or CTE name with person_id, source_record_id, occurred_at, event_type,
    event_name and channel. A session is a run of one person's events on one UTC day with gaps
    of at most var session_timeout_minutes. Sessions never cross midnight (as in Google
    Analytics), so a session is wholly before or wholly after any date cutoff: the point-in-time
    features can count sessions without reading an event past the cutoff.

    One row per session: person_id, session_start, session_end, session_date, channel (of the
    first event), events, page_views, product_views, cart_adds, orders_completed and
    is_abandoned_cart (a cart add and no Order Completed in the session).
-#}
{%- macro sessionise(events) -%}
    {%- set timeout_seconds = profile_int_var('session_timeout_minutes') * 60 -%}
    with session_events as (
        select
            person_id,
            source_record_id,
            occurred_at,
            cast(occurred_at as date) as session_date,
            event_type,
            event_name,
            channel,
            lag(occurred_at) over (
                partition by person_id, cast(occurred_at as date)
                order by occurred_at, source_record_id
            ) as previous_occurred_at
        from {{ events }}
        where person_id is not null and occurred_at is not null
    ),

    flagged as (
        select
            *,
            case
                when previous_occurred_at is null then 1
                when {{ dbt.datediff('previous_occurred_at', 'occurred_at', 'second') }}
                    > {{ timeout_seconds }} then 1
                else 0
            end as starts_session
        from session_events
    ),

    numbered as (
        select
            *,
            sum(starts_session) over (
                partition by person_id, session_date
                order by occurred_at, source_record_id
                rows between unbounded preceding and current row
            ) as session_number
        from flagged
    )

    select
        person_id,
        session_date,
        session_number,
        min(occurred_at) as session_start,
        max(occurred_at) as session_end,
        min(case when starts_session = 1 then channel end) as channel,
        count(*) as events,
        count(case when event_type = 'page' then 1 end) as page_views,
        count(case when event_name = 'Product Viewed' then 1 end) as product_views,
        count(case when event_name = 'Product Added' then 1 end) as cart_adds,
        count(case when event_name = 'Order Completed' then 1 end) as orders_completed,
        case
            when count(case when event_name = 'Product Added' then 1 end) > 0
                and count(case when event_name = 'Order Completed' then 1 end) = 0
                then true
            else false
        end as is_abandoned_cart
    from numbered
    group by person_id, session_date, session_number
{%- endmacro -%}
