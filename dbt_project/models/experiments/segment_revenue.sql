-- Revenue of each segment's members after they entered, per week, split by experiment arm
-- where the segment runs one (members without an experiment are 'all members'). Answers
-- "which segments drive revenue": compare revenue_per_person of the treatment arm with the
-- holdout's, or of the segment's members over time.
with

membership as (

    {{ experiments_membership() }}

),

assignments as (

    select * from {{ ref('assignments') }}

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

    select cast(person_id as varchar), purchased_at, coalesce(total, 0)
    from store_purchases
    where person_id is not null

),

stays as (

    select
        membership.segment,
        cast(membership.person_id as varchar) as person_id,
        membership.entered_at,
        membership.exited_at,
        coalesce(assignments.experiment, '(none)') as experiment,
        coalesce(assignments.arm, 'all members') as arm
    from membership
    left join assignments
        on assignments.segment = membership.segment
        and assignments.person_id = cast(membership.person_id as varchar)

),

members_per_arm as (

    select segment, experiment, arm, count(distinct person_id) as persons
    from stays
    group by segment, experiment, arm

),

revenue_per_week as (

    select
        stays.segment,
        stays.experiment,
        stays.arm,
        {{ dbt.date_trunc('week', 'purchases.purchased_at') }} as week_start,
        count(*) as purchases,
        cast(sum(purchases.revenue) as double) as revenue
    from stays
    join purchases
        on purchases.person_id = stays.person_id
        and purchases.purchased_at >= stays.entered_at
        and (stays.exited_at is null or purchases.purchased_at < stays.exited_at)
    group by
        stays.segment,
        stays.experiment,
        stays.arm,
        {{ dbt.date_trunc('week', 'purchases.purchased_at') }}

),

final as (

    select
        cast(revenue_per_week.segment as varchar) as segment,
        cast(revenue_per_week.experiment as varchar) as experiment,
        cast(revenue_per_week.arm as varchar) as arm,
        cast(revenue_per_week.week_start as date) as week_start,
        members_per_arm.persons,
        revenue_per_week.purchases,
        revenue_per_week.revenue,
        revenue_per_week.revenue / members_per_arm.persons as revenue_per_person
    from revenue_per_week
    join members_per_arm
        on members_per_arm.segment = revenue_per_week.segment
        and members_per_arm.experiment = revenue_per_week.experiment
        and members_per_arm.arm = revenue_per_week.arm

)

select * from final
