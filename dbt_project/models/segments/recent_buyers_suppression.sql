-- Bought in the last 30 days: suppress from acquisition ads and offers.
with profiles as (

    select * from {{ ref('customer_profiles') }}

),

final as (

    select
        person_id,
        email,
        phone,
        country,
        last_order_at,
        consent_ads
    from profiles
    where days_since_last_order <= 30

)

select * from final
