{#-
    profile_computed(watermark_names): the int_profile_facts CTE computed: one row per person in
    scope joining every fact CTE (identifiers, survivorship, web, commerce, engagement, consent,
    activity, record watermarks) into the output columns, with the state the delta path keeps
    (survivorship winners' timestamps and record ids, last_event_at, favourite_category_amount,
    last_ticket_id) and is_delta. For a delta person these are the facts of its new records
    only; profile_final combines them with the stored row.
-#}
{%- macro profile_computed(watermark_names) -%}
computed as (

    select
        scope.person_id,
        coalesce(scope.is_known, false) as is_known,
        identifier_counts.user_id,
        identifier_counts.crm_id,
        identifier_counts.loyalty_id,
        best_email.email,
        coalesce(best_email.email_is_verified, false) as email_is_verified,
        best_phone.phone,
        best_name.first_name,
        best_name.last_name,
        best_name.name_source,
        latest_country.country,
        coalesce(identifier_counts.emails_count, 0) as emails_count,
        coalesce(identifier_counts.phones_count, 0) as phones_count,
        coalesce(identifier_counts.devices_count, 0) as devices_count,
        coalesce(identifier_counts.anonymous_ids_count, 0) as anonymous_ids_count,
        activity_span.first_seen_at,
        activity_span.last_seen_at,
        channel_facts.channels_seen,
        coalesce(channel_facts.channels_count, 0) as channels_count,

        coalesce(event_facts.events_count, 0) as events_count,
        coalesce(session_facts.sessions_count, 0) as sessions_count,
        coalesce(event_facts.page_views_count, 0) as page_views_count,
        coalesce(event_facts.product_views_count, 0) as product_views_count,
        coalesce(event_facts.cart_adds_count, 0) as cart_adds_count,
        coalesce(session_facts.abandoned_carts_count, 0) as abandoned_carts_count,
        session_facts.last_session_at,
        session_facts.last_abandoned_cart_at,

        coalesce(online_order_facts.online_orders_count, 0) as online_orders_count,
        coalesce(store_purchase_facts.store_purchases_count, 0) as store_purchases_count,
        coalesce(online_order_facts.online_revenue, 0) as online_revenue,
        coalesce(store_purchase_facts.store_revenue, 0) as store_revenue,
        coalesce(return_facts.returns_count, 0) as returns_count,
        coalesce(return_facts.returns_amount, 0) as returns_amount,
        case
            when online_order_facts.first_online_order_at is null
                then store_purchase_facts.first_store_purchase_at
            when store_purchase_facts.first_store_purchase_at is null
                then online_order_facts.first_online_order_at
            when online_order_facts.first_online_order_at
                <= store_purchase_facts.first_store_purchase_at
                then online_order_facts.first_online_order_at
            else store_purchase_facts.first_store_purchase_at
        end as first_order_at,
        case
            when online_order_facts.last_online_order_at is null
                then store_purchase_facts.last_store_purchase_at
            when store_purchase_facts.last_store_purchase_at is null
                then online_order_facts.last_online_order_at
            when online_order_facts.last_online_order_at
                >= store_purchase_facts.last_store_purchase_at
                then online_order_facts.last_online_order_at
            else store_purchase_facts.last_store_purchase_at
        end as last_order_at,
        category_facts.categories_purchased,
        coalesce(category_facts.categories_count, 0) as categories_count,
        favourite_category.favourite_category,

        coalesce(email_facts.emails_sent, 0) as emails_sent,
        coalesce(email_facts.email_opens, 0) as email_opens,
        coalesce(email_facts.email_clicks, 0) as email_clicks,
        coalesce(email_facts.email_bounces, 0) as email_bounces,
        coalesce(email_facts.email_unsubscribed, false) as email_unsubscribed,
        email_facts.last_email_engaged_at,

        coalesce(ticket_facts.tickets_count, 0) as tickets_count,
        coalesce(ticket_facts.open_tickets_count, 0) as open_tickets_count,
        ticket_facts.last_ticket_at,
        last_ticket.last_ticket_sentiment,

        coalesce(ad_click_facts.ad_clicks_count, 0) as ad_clicks_count,
        coalesce(ad_click_facts.ad_spend_total, 0) as ad_spend_total,
        ad_click_facts.last_ad_click_at,
        coalesce(crm_facts.crm_contacts_count, 0) as crm_contacts_count,

        coalesce(consent_facts.consent_email, false) as consent_email,
        coalesce(consent_facts.consent_sms, false) as consent_sms,
        coalesce(consent_facts.consent_ads, false) as consent_ads,
        coalesce(consent_facts.consent_analytics, false) as consent_analytics,
        consent_facts.consent_updated_at,
        {%- for purpose in ['email', 'sms', 'ads', 'analytics'] %}
        coalesce(consent_facts.has_consent_{{ purpose }}, false) as has_consent_{{ purpose }},
        {%- endfor %}

        identifier_counts.identity_fingerprint,
        record_watermarks.last_record_at
        {%- for name in watermark_names %},
        record_watermarks.watermark_{{ name }}
        {%- endfor %},
        (select indexed_at from index_now) as watermark_indexed,
        (select resolved_at from identity_now) as watermark_identity,
        best_email.email_seen_at,
        best_phone.phone_seen_at,
        best_name.name_seen_at,
        best_name.name_record_id,
        latest_country.country_ordered_at,
        latest_country.country_order_id,
        event_facts.last_event_at,
        favourite_category.favourite_category_amount,
        last_ticket.last_ticket_id,
        scope.is_delta
    from scope
    left join identifier_counts on identifier_counts.person_id = scope.person_id
    left join best_email on best_email.person_id = scope.person_id
    left join best_phone on best_phone.person_id = scope.person_id
    left join best_name on best_name.person_id = scope.person_id
    left join latest_country on latest_country.person_id = scope.person_id
    left join activity_span on activity_span.person_id = scope.person_id
    left join channel_facts on channel_facts.person_id = scope.person_id
    left join event_facts on event_facts.person_id = scope.person_id
    left join session_facts on session_facts.person_id = scope.person_id
    left join online_order_facts on online_order_facts.person_id = scope.person_id
    left join store_purchase_facts on store_purchase_facts.person_id = scope.person_id
    left join return_facts on return_facts.person_id = scope.person_id
    left join category_facts on category_facts.person_id = scope.person_id
    left join favourite_category on favourite_category.person_id = scope.person_id
    left join email_facts on email_facts.person_id = scope.person_id
    left join ticket_facts on ticket_facts.person_id = scope.person_id
    left join last_ticket on last_ticket.person_id = scope.person_id
    left join ad_click_facts on ad_click_facts.person_id = scope.person_id
    left join crm_facts on crm_facts.person_id = scope.person_id
    left join consent_facts on consent_facts.person_id = scope.person_id
    left join record_watermarks on record_watermarks.person_id = scope.person_id

)
{%- endmacro -%}
