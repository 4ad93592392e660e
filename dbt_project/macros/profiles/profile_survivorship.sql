{#-
    profile_survivorship(incremental): the int_profile_facts CTEs that pick each person's contact
    fields from their records (the model's CTEs crm_contacts, orders, events, pos_purchases,
    tickets, email_events, scope_graph):

        best_email       among the person's own graph emails (never a placeholder or another
                         person's), a CRM-verified one, then the latest seen, then the first
                         alphabetically (email_sightings, email_candidates)
        best_phone       among the person's own graph phones, the latest seen (phone_sightings)
        best_name        CRM contacts over web identify traits, then the latest record
                         (name_candidates)
        latest_country   the shipping country of the latest order that has one

    With incremental, a delta person's stored winner (the model's CTE previous) competes with the
    candidates of its new records, so the combined row keeps the winner (profile_combine 'keep').
-#}
{%- macro profile_survivorship(incremental) -%}
email_sightings as (

    select person_id, email, coalesce(updated_at, created_at) as seen_at,
        coalesce(is_email_verified, false) as is_verified
    from crm_contacts where email is not null
    union all
    select person_id, email, ordered_at, false from orders where email is not null
    union all
    select person_id, email, occurred_at, false from events where email is not null
    union all
    select person_id, email, purchased_at, false from pos_purchases where email is not null
    union all
    select person_id, email, created_at, false from tickets where email is not null
    union all
    select person_id, email, occurred_at, false from email_events where email is not null
    {%- if incremental %}
    union all
    -- a delta person's stored winner competes with the new sightings
    select person_id, email, email_seen_at, email_is_verified from previous
    where email is not null
    {%- endif %}

),

email_candidates as (

    -- only the person's own graph emails: placeholders and other persons' emails never win
    select
        sightings.person_id,
        sightings.email,
        max(sightings.seen_at) as last_seen_at,
        max(case when sightings.is_verified then 1 else 0 end) = 1 as is_verified
    from email_sightings as sightings
    inner join scope_graph
        on scope_graph.id_type = 'email'
        and scope_graph.id_value = sightings.email
        and scope_graph.person_id = sightings.person_id
    group by sightings.person_id, sightings.email

),

best_email as (

    select person_id, email, is_verified as email_is_verified, last_seen_at as email_seen_at
    from (
        select
            *,
            row_number() over (
                partition by person_id
                order by is_verified desc, last_seen_at desc nulls last, email
            ) as preference
        from email_candidates
    ) as ranked
    where preference = 1

),

phone_sightings as (

    select person_id, phone, coalesce(updated_at, created_at) as seen_at
    from crm_contacts where phone is not null
    union all
    select person_id, phone, ordered_at from orders where phone is not null
    union all
    select person_id, phone, occurred_at from events where phone is not null
    union all
    select person_id, phone, purchased_at from pos_purchases where phone is not null
    union all
    select person_id, phone, created_at from tickets where phone is not null
    {%- if incremental %}
    union all
    select person_id, phone, phone_seen_at from previous where phone is not null
    {%- endif %}

),

best_phone as (

    select person_id, phone, seen_at as phone_seen_at
    from (
        select
            sightings.person_id,
            sightings.phone,
            max(sightings.seen_at) as seen_at,
            row_number() over (
                partition by sightings.person_id
                order by max(sightings.seen_at) desc nulls last, sightings.phone
            ) as preference
        from phone_sightings as sightings
        inner join scope_graph
            on scope_graph.id_type = 'phone'
            and scope_graph.id_value = sightings.phone
            and scope_graph.person_id = sightings.person_id
        group by sightings.person_id, sightings.phone
    ) as ranked
    where preference = 1

),

name_candidates as (

    select
        person_id, first_name, last_name, 'crm' as name_source, 1 as source_rank,
        coalesce(updated_at, created_at) as seen_at, source_record_id
    from crm_contacts
    where first_name is not null or last_name is not null
    union all
    select
        person_id, first_name, last_name, 'web', 2, occurred_at, source_record_id
    from events
    where first_name is not null or last_name is not null
    {%- if incremental %}
    union all
    select
        person_id, first_name, last_name, name_source,
        case when name_source = 'crm' then 1 else 2 end, name_seen_at, name_record_id
    from previous
    where name_source is not null
    {%- endif %}

),

best_name as (

    select
        person_id, first_name, last_name, name_source, seen_at as name_seen_at,
        source_record_id as name_record_id
    from (
        select
            *,
            row_number() over (
                partition by person_id
                order by source_rank, seen_at desc nulls last, source_record_id desc
            ) as preference
        from name_candidates
    ) as ranked
    where preference = 1

),

latest_country as (

    select
        person_id, shipping_country as country, ordered_at as country_ordered_at,
        order_id as country_order_id
    from (
        select
            person_id,
            shipping_country,
            ordered_at,
            order_id,
            row_number() over (
                partition by person_id order by ordered_at desc, order_id desc
            ) as preference
        from (
            select person_id, shipping_country, ordered_at, order_id
            from orders
            where shipping_country is not null
            {%- if incremental %}
            union all
            select person_id, country, country_ordered_at, country_order_id
            from previous
            where country is not null
            {%- endif %}
        ) as country_orders
    ) as ranked
    where preference = 1

)
{%- endmacro -%}
