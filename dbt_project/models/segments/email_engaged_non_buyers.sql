-- Opened or clicked an email in the last 30 days but never bought.
with profiles as (

    select * from {{ ref('customer_profiles') }}

),

final as (

    select
        person_id,
        email,
        first_name,
        country,
        last_email_engaged_at,
        consent_email
    from profiles
    where last_email_engaged_at >= as_of - interval '30 days'
        and coalesce(orders_count, 0) = 0

)

select * from final
