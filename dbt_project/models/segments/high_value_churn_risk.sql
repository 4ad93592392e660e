-- Top CLV quintile whose churn score is in the riskiest three deciles.
with profiles as (

    select * from {{ ref('customer_profiles') }}

),

churn_scores as (

    select * from {{ source('ml', 'person_scores') }}
    where model = 'churn_90d'

),

final as (

    select
        profiles.person_id,
        profiles.email,
        profiles.phone,
        profiles.first_name,
        profiles.last_name,
        profiles.country,
        profiles.revenue_total,
        profiles.last_order_at,
        churn_scores.score as churn_score,
        churn_scores.decile as churn_decile,
        churn_scores.reason_1 as churn_reason,
        profiles.consent_email,
        profiles.consent_ads
    from profiles
    inner join churn_scores
        on churn_scores.person_id = profiles.person_id
    where profiles.clv_quintile = 5
        and churn_scores.decile >= 8

)

select * from final
