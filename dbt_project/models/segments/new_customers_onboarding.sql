-- First purchase recently (lifecycle stage 'new'): the onboarding journey's audience.
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
        orders_count,
        last_order_at,
        consent_email,
        consent_sms
    from profiles
    where lifecycle_stage = 'new'

)

select * from final
