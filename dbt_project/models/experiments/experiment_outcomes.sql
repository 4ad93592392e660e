-- Per assigned person: purchases (online orders not cancelled, in-store purchases) and
-- revenue (refunded orders count as a purchase but not as revenue, as in the profiles)
-- from the moment of assignment until the window closes or the measurement moment.
with

assignments as (

    select * from {{ ref('assignments') }}

),

arms as (

    select distinct experiment, window_days from {{ ref('experiment_arms') }}

),

orders as (

    select * from {{ ref('int_orders_persons') }}

),

store_purchases as (

    select * from {{ ref('int_pos_purchases_persons') }}

),

purchases as (

    select
        cast(person_id as varchar) as person_id,
        ordered_at as purchased_at,
        case when coalesce(lower(status), '') in ('refunded') then 0
            else coalesce(total, 0) end as revenue
    from orders
    where person_id is not null
        and coalesce(lower(status), '') not in ('cancelled', 'canceled')

    union all

    select
        cast(person_id as varchar) as person_id,
        purchased_at,
        coalesce(total, 0) as revenue
    from store_purchases
    where person_id is not null

),

windows as (

    select
        assignments.experiment,
        assignments.person_id,
        assignments.arm,
        assignments.is_holdout,
        assignments.assigned_at,
        {{ dbt.dateadd('day', 'arms.window_days', 'assignments.assigned_at') }} as window_ends_at
    from assignments
    join arms
        on arms.experiment = assignments.experiment

),

final as (

    select
        windows.experiment,
        windows.person_id,
        windows.arm,
        windows.is_holdout,
        windows.assigned_at,
        windows.window_ends_at,
        windows.window_ends_at <= {{ experiments_as_of() }} as window_complete,
        count(purchases.person_id) as purchases,
        case when count(purchases.person_id) > 0 then 1 else 0 end as converted,
        cast(coalesce(sum(purchases.revenue), 0) as double) as revenue
    from windows
    left join purchases
        on purchases.person_id = windows.person_id
        and purchases.purchased_at >= windows.assigned_at
        and purchases.purchased_at < windows.window_ends_at
        and purchases.purchased_at <= {{ experiments_as_of() }}
    group by
        windows.experiment,
        windows.person_id,
        windows.arm,
        windows.is_holdout,
        windows.assigned_at,
        windows.window_ends_at

)

select * from final
