{#-
    Web behaviour in the windows before as_of (last 7 and 30 days), from the recent slice of
    events only. Rebuilt in full on every run: the windows move with as_of, and the slice is
    small next to the whole event history that int_profile_facts covers.
    Sessions are counted in a window when they start in (as_of - N days, as_of].
-#}
{{ config(materialized='table') }}

with

as_of as (

    select as_of from {{ ref('profile_as_of') }}

),

recent_events as (

    select events.*
    from (
        {{ resolve_source('stg_segment__events',
            where="occurred_at > " ~ dbt.dateadd('day', -31,
                "(select as_of from " ~ ref('profile_as_of') ~ ")")
            ~ " and occurred_at <= (select as_of from " ~ ref('profile_as_of') ~ ")") }}
    ) as events
    where events.person_id is not null

),

sessions as (

    {{ sessionise('recent_events') }}

),

windowed as (

    select
        sessions.*,
        sessions.session_start > {{ dbt.dateadd('day', -30, 'as_of.as_of') }} as in_30d,
        sessions.session_start > {{ dbt.dateadd('day', -7, 'as_of.as_of') }} as in_7d
    from sessions
    cross join as_of

),

final as (

    select
        person_id,
        count(case when in_30d then 1 end) as sessions_30d,
        cast(sum(case when in_30d then page_views else 0 end) as bigint) as page_views_30d,
        cast(sum(case when in_30d then product_views else 0 end) as bigint) as product_views_30d,
        cast(sum(case when in_30d then cart_adds else 0 end) as bigint) as cart_adds_30d,
        count(case when in_7d and is_abandoned_cart then 1 end) as abandoned_carts_7d,
        count(case when in_30d and is_abandoned_cart then 1 end) as abandoned_carts_30d
    from windowed
    group by person_id
    having count(case when in_30d then 1 end) > 0

)

select * from final
