{#-
    profile_engagement_facts(incremental): the int_profile_facts CTEs of email engagement,
    support, ads and CRM, from the model's CTEs email_events, tickets, ad_clicks and
    crm_contacts: email_facts, ticket_facts, last_ticket (its sentiment; with incremental a
    delta person's stored last ticket competes with the new ones), ad_click_facts, crm_facts.
-#}
{%- macro profile_engagement_facts(incremental) -%}
email_facts as (

    select
        person_id,
        count(case when event_type = 'sent' then 1 end) as emails_sent,
        count(case when event_type = 'open' then 1 end) as email_opens,
        count(case when event_type = 'click' then 1 end) as email_clicks,
        count(case when event_type = 'bounce' then 1 end) as email_bounces,
        max(case when event_type = 'unsubscribe' then 1 else 0 end) = 1 as email_unsubscribed,
        max(case when event_type in ('open', 'click') then occurred_at end)
            as last_email_engaged_at
    from email_events
    group by person_id

),

ticket_facts as (

    select
        person_id,
        count(*) as tickets_count,
        count(case when coalesce(status, '') <> 'solved' then 1 end) as open_tickets_count,
        max(created_at) as last_ticket_at
    from tickets
    group by person_id

),

last_ticket as (

    select person_id, sentiment as last_ticket_sentiment, ticket_id as last_ticket_id
    from (
        select
            person_id,
            sentiment,
            ticket_id,
            row_number() over (
                partition by person_id order by created_at desc, ticket_id desc
            ) as recency
        from (
            select person_id, sentiment, created_at, ticket_id from tickets
            {%- if incremental %}
            union all
            select person_id, last_ticket_sentiment, last_ticket_at, last_ticket_id
            from previous
            where last_ticket_id is not null
            {%- endif %}
        ) as ticket_candidates
    ) as ranked
    where recency = 1

),

ad_click_facts as (

    select
        person_id,
        count(*) as ad_clicks_count,
        sum(coalesce(cost, 0)) as ad_spend_total,
        max(clicked_at) as last_ad_click_at
    from ad_clicks
    group by person_id

),

crm_facts as (

    select person_id, count(*) as crm_contacts_count
    from crm_contacts
    group by person_id

)
{%- endmacro -%}
