-- Customers worth the most who have stopped buying (at risk or churned).
with profiles as (

    select * from {{ ref('customer_profiles') }}

),

final as (

    select
        person_id,
        email,
        phone,
        first_name,
        last_name,
        country,
        orders_count,
        revenue_total,
        last_order_at,
        days_since_last_order,
        rfm_segment,
        consent_email,
        consent_sms
    from profiles
    where (clv_quintile = 5 or rfm_segment = 'cant_lose_them')
        and lifecycle_stage in ('at_risk', 'churned')

)

select * from final
