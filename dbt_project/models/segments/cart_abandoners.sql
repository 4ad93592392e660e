-- Added to cart in the last 24 hours of the build and bought nothing since.
with profiles as (

    select * from {{ ref('customer_profiles') }}

),

final as (

    select
        person_id,
        email,
        phone,
        first_name,
        country,
        last_abandoned_cart_at,
        consent_email,
        consent_sms
    from profiles
    where last_abandoned_cart_at >= as_of - interval '24 hours'
        and (last_order_at is null or last_order_at < last_abandoned_cart_at)

)

select * from final
