-- The two deciles most likely to buy in the next 30 days, by the purchase model.
with profiles as (

    select * from {{ ref('customer_profiles') }}

),

purchase_scores as (

    select * from {{ source('ml', 'person_scores') }}
    where model = 'purchase_30d'

),

final as (

    select
        profiles.person_id,
        profiles.email,
        profiles.phone,
        profiles.first_name,
        profiles.country,
        profiles.lifecycle_stage,
        purchase_scores.score as purchase_score,
        purchase_scores.decile as purchase_decile,
        profiles.consent_email,
        profiles.consent_ads
    from profiles
    inner join purchase_scores
        on purchase_scores.person_id = profiles.person_id
    where purchase_scores.decile >= 9

)

select * from final
