{#-
    profile_consent_facts(): the int_profile_facts CTEs of consent, from the model's CTE
    consents: latest_consents (the latest record per person and purpose; a revocation beats a
    grant recorded at the same instant) and consent_facts (consent_<purpose> granted, and
    has_consent_<purpose>: a record for the purpose exists, which tells the delta path whether
    the stored value stands).
-#}
{%- macro profile_consent_facts() -%}
latest_consents as (

    select person_id, purpose, status, recorded_at
    from (
        select
            person_id,
            purpose,
            status,
            recorded_at,
            row_number() over (
                partition by person_id, purpose
                order by
                    recorded_at desc,
                    case when status = 'revoked' then 0 else 1 end,
                    consent_id desc
            ) as recency
        from consents
        where purpose is not null and recorded_at is not null
    ) as ranked
    where recency = 1

),

consent_facts as (

    select
        person_id,
        max(case when purpose = 'email' and status = 'granted' then 1 else 0 end) = 1
            as consent_email,
        max(case when purpose = 'sms' and status = 'granted' then 1 else 0 end) = 1
            as consent_sms,
        max(case when purpose = 'ads' and status = 'granted' then 1 else 0 end) = 1
            as consent_ads,
        max(case when purpose = 'analytics' and status = 'granted' then 1 else 0 end) = 1
            as consent_analytics,
        {%- for purpose in ['email', 'sms', 'ads', 'analytics'] %}
        max(case when purpose = '{{ purpose }}' then 1 else 0 end) = 1
            as has_consent_{{ purpose }},
        {%- endfor %}
        max(recorded_at) as consent_updated_at
    from latest_consents
    group by person_id

)
{%- endmacro -%}
