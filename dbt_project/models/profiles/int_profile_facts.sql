{#-
    Per-person facts that depend only on the person's own records (counts, sums, first/last
    timestamps, survivorship winners, latest consent): nothing relative to as_of and nothing
    ranked across persons, so a person's row changes only when their records or identifiers do.
    customer_profiles adds the relative and ranked traits on top.

    Incremental (delete+insert on person_id). A run rebuilds the rows of the persons it touches:
      - persons with a record whose watermark timestamp (see profile_sources) is at or after
        that source's watermark minus var profile_lookback_days; a source's watermark is the
        latest value already processed (max of watermark_<name> in this table), the lookback
        re-reads late arrivals;
      - persons whose identifier set changed (identity fingerprint differs, or no row yet):
        merges, splits and newly linked identifiers;
      - persons that absorbed a merge since the last run (identity.person_merges rows whose
        old_person_id still has a row here).
    The rows of persons that no longer exist in identity.persons (merged away) are deleted by
    the post-hook. Records of touched persons are found through their identifiers in the lean
    index int_record_identifiers and then read from staging by source_record_id (see
    resolve_person), so the unchanged majority of records is never normalised nor resolved.
-#}
{{ config(
    materialized='incremental',
    unique_key='person_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook="delete from {{ this }} where person_id not in (select person_id from "
        ~ "{{ ref('persons') }})"
) }}

{%- set sources = profile_sources() -%}
{%- set incremental = is_incremental() -%}
{%- set restrict = 'touched_identifiers' if incremental else none -%}
{%- set records_of = {} -%}
{%- for model_name in sources -%}
    {%- do records_of.update({model_name: "select source_record_id from touched_records "
        ~ "where source = '" ~ model_name ~ "'" if incremental else none}) -%}
{%- endfor -%}
{%- set watermark_names = [] -%}
{%- for spec in sources.values() -%}
    {%- for name in spec.watermarks -%}{%- do watermark_names.append(name) -%}{%- endfor -%}
{%- endfor -%}
{%- do watermark_names.extend(['consents_recorded', 'returns_returned']) -%}
{%- set since = {} -%}
{%- for name in watermark_names -%}
    {%- do since.update({name: "cast('1900-01-01' as timestamp)"}) -%}
{%- endfor -%}
{%- if incremental and execute -%}
    {%- set maxima_sql -%}
        select
        {%- for name in watermark_names %}
            max(watermark_{{ name }}) as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
        from {{ this }}
    {%- endset -%}
    {%- set maxima = run_query(maxima_sql) -%}
    {%- set lookback_days = profile_int_var('profile_lookback_days') -%}
    {%- for name in watermark_names -%}
        {%- set value = maxima.columns[loop.index0].values()[0] -%}
        {%- if value is not none -%}
            {%- do since.update({name: dbt.dateadd(
                'day', -1 * lookback_days, "cast('" ~ value ~ "' as timestamp)")}) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}
{%- set in_scope = 'person_id in (select person_id from scope)' if incremental
    else 'person_id is not null' -%}

with

-- depends_on: {{ ref('person_merges') }}
-- depends_on: {{ ref('int_record_identifiers') }}

persons as (

    select person_id, is_known from {{ ref('persons') }}

),

graph as (

    select id_type, id_value, person_id from {{ ref('identity_graph') }}

),

identity_fingerprints as {{ materialized_cte() }} (

    select
        person_id,
        {{ set_fingerprint("id_type || ':' || id_value") }} as identity_fingerprint
    from graph
    group by person_id

),

{%- if incremental %}

recent_record_persons as (

    {%- for model_name, spec in sources.items() %}
    {%- set conditions = [] %}
    {%- for name, expr in spec.watermarks.items() %}
        {%- do conditions.append(expr ~ ' >= ' ~ since[name]) %}
    {%- endfor %}
    select person_id from (
        {{ resolve_source(model_name, where=conditions | join(' or ')) }}
    ) as recent_{{ loop.index }}
    union
    {%- endfor %}
    select person_id from (
        {{ resolve_consent_subjects(
            where='consents.recorded_at >= ' ~ since['consents_recorded']) }}
    ) as recent_consents
    union
    select person_id from (
        {{ resolve_source('stg_shop__orders', where="order_id in (select order_id from "
            ~ ref('stg_shop__returns') ~ " where returned_at >= "
            ~ since['returns_returned'] ~ ")") }}
    ) as recent_returns

),

changed_identities as (

    select current_ids.person_id
    from identity_fingerprints as current_ids
    left join {{ this }} as previous
        on previous.person_id = current_ids.person_id
    where previous.person_id is null
        or previous.identity_fingerprint <> current_ids.identity_fingerprint

),

merged_persons as (

    -- merged since the last run: the merged-away id still has a row here
    select person_id from {{ ref('person_merges') }}
    where old_person_id in (select person_id from {{ this }})

),

touched_persons as (

    select person_id from recent_record_persons where person_id is not null
    union
    select person_id from changed_identities
    union
    select person_id from merged_persons

),

scope as {{ materialized_cte() }} (

    select * from persons
    where person_id in (select person_id from touched_persons)

),

touched_identifiers as {{ materialized_cte() }} (

    select id_type, id_value from graph
    where person_id in (select person_id from scope)

),

touched_records as {{ materialized_cte() }} (

    -- records carrying an identifier of a rebuilt person, from the lean index: one semi-join
    -- per id type on plain columns
    {%- for id_type in person_id_priority() %}
    select source, source_record_id
    from {{ ref('int_record_identifiers') }}
    where {{ id_type }} in (
        select id_value from touched_identifiers where id_type = '{{ id_type }}'
    )
    {{ 'union' if not loop.last }}
    {%- endfor %}

),

{%- else %}

scope as {{ materialized_cte() }} (

    select * from persons

),

{%- endif %}

-- resolved records of the persons in scope

events as {{ materialized_cte() }} (

    select * from ({{ resolve_source('stg_segment__events',
            restrict_to_records=records_of['stg_segment__events']) }})
        as resolved
    where {{ in_scope }}

),

orders as {{ materialized_cte() }} (

    select * from ({{ resolve_source('stg_shop__orders',
            restrict_to_records=records_of['stg_shop__orders']) }})
        as resolved
    where {{ in_scope }}

),

crm_contacts as {{ materialized_cte() }} (

    select * from ({{ resolve_source('stg_crm__contacts',
            restrict_to_records=records_of['stg_crm__contacts']) }})
        as resolved
    where {{ in_scope }}

),

email_events as {{ materialized_cte() }} (

    select * from (
        {{ resolve_source('stg_esp__email_events',
            restrict_to_records=records_of['stg_esp__email_events']) }}
    ) as resolved
    where {{ in_scope }}

),

tickets as {{ materialized_cte() }} (

    select * from (
        {{ resolve_source('stg_helpdesk__tickets',
            restrict_to_records=records_of['stg_helpdesk__tickets']) }}
    ) as resolved
    where {{ in_scope }}

),

pos_purchases as {{ materialized_cte() }} (

    select * from (
        {{ resolve_source('stg_pos__purchases',
            restrict_to_records=records_of['stg_pos__purchases']) }}
    ) as resolved
    where {{ in_scope }}

),

ad_clicks as {{ materialized_cte() }} (

    select * from ({{ resolve_source('stg_ads__ad_clicks',
            restrict_to_records=records_of['stg_ads__ad_clicks']) }})
        as resolved
    where {{ in_scope }}

),

consents as {{ materialized_cte() }} (

    select * from (
        {{ resolve_consent_subjects(restrict_to_identifiers=restrict) }}
    ) as resolved
    where {{ in_scope }}

),

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

order_returns as (

    select * from {{ ref('stg_shop__returns') }}

),

scope_graph as {{ materialized_cte() }} (

    select * from graph
    where person_id in (select person_id from scope)

),

-- identifiers

identifier_counts as (

    select
        person_id,
        count(case when id_type = 'email' then 1 end) as emails_count,
        count(case when id_type = 'phone' then 1 end) as phones_count,
        count(case when id_type = 'device_id' then 1 end) as devices_count,
        count(case when id_type = 'anonymous_id' then 1 end) as anonymous_ids_count,
        min(case when id_type = 'user_id' then id_value end) as user_id,
        min(case when id_type = 'crm_id' then id_value end) as crm_id,
        min(case when id_type = 'loyalty_id' then id_value end) as loyalty_id
    from scope_graph
    group by person_id

),

-- survivorship: contact fields

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

    select person_id, email, is_verified as email_is_verified
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

),

best_phone as (

    select person_id, phone
    from (
        select
            sightings.person_id,
            sightings.phone,
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

),

best_name as (

    select person_id, first_name, last_name, name_source
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

    select person_id, shipping_country as country
    from (
        select
            person_id,
            shipping_country,
            row_number() over (
                partition by person_id order by ordered_at desc, order_id desc
            ) as preference
        from orders
        where shipping_country is not null
    ) as ranked
    where preference = 1

),

-- web behaviour

event_facts as (

    select
        person_id,
        count(*) as events_count,
        count(case when event_type = 'page' then 1 end) as page_views_count,
        count(case when event_name = 'Product Viewed' then 1 end) as product_views_count,
        count(case when event_name = 'Product Added' then 1 end) as cart_adds_count,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at
    from events
    group by person_id

),

sessions as (

    {{ sessionise('events') }}

),

session_facts as (

    select
        person_id,
        count(*) as sessions_count,
        count(case when is_abandoned_cart then 1 end) as abandoned_carts_count,
        max(case when is_abandoned_cart then session_end end) as last_abandoned_cart_at,
        max(session_start) as last_session_at
    from sessions
    group by person_id

),

-- commerce

placed_orders as {{ materialized_cte() }} (

    select
        *,
        coalesce(lower(status), '') not in ('refunded') as counts_as_revenue
    from orders
    where coalesce(lower(status), '') not in ('cancelled', 'canceled')

),

online_order_facts as (

    select
        person_id,
        count(*) as online_orders_count,
        sum(case when counts_as_revenue then total else 0 end) as online_revenue,
        min(ordered_at) as first_online_order_at,
        max(ordered_at) as last_online_order_at
    from placed_orders
    group by person_id

),

store_purchase_facts as (

    select
        person_id,
        count(*) as store_purchases_count,
        sum(coalesce(total, 0)) as store_revenue,
        min(purchased_at) as first_store_purchase_at,
        max(purchased_at) as last_store_purchase_at
    from pos_purchases
    group by person_id

),

return_facts as (

    select
        placed_orders.person_id,
        count(*) as returns_count,
        sum(coalesce(order_returns.amount, 0)) as returns_amount
    from order_returns
    inner join placed_orders on placed_orders.order_id = order_returns.order_id
    group by placed_orders.person_id

),

category_spend as (

    select placed_orders.person_id, order_items.category, order_items.line_amount as amount
    from order_items
    inner join placed_orders on placed_orders.order_id = order_items.order_id
    where order_items.category is not null
    union all
    select person_id, category, total
    from pos_purchases
    where category is not null

),

category_totals as {{ materialized_cte() }} (

    select person_id, category, sum(coalesce(amount, 0)) as amount
    from category_spend
    group by person_id, category

),

category_facts as (

    select
        person_id,
        {{ dbt.listagg('category', "', '", 'order by category') }} as categories_purchased,
        count(*) as categories_count
    from category_totals
    group by person_id

),

favourite_category as (

    select person_id, category as favourite_category
    from (
        select
            person_id,
            category,
            row_number() over (
                partition by person_id order by amount desc, category
            ) as preference
        from category_totals
    ) as ranked
    where preference = 1

),

-- email engagement, support, ads

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

    select person_id, sentiment as last_ticket_sentiment
    from (
        select
            person_id,
            sentiment,
            row_number() over (
                partition by person_id order by created_at desc, ticket_id desc
            ) as recency
        from tickets
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

),

-- consent: the latest record per purpose for any of the person's identifiers wins; a
-- revocation beats a grant recorded at the same instant

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
        max(recorded_at) as consent_updated_at
    from latest_consents
    group by person_id

),

-- channels and activity span

channel_touches as (

    select distinct person_id, lower(channel) as channel from events where channel is not null
    union
    select distinct person_id, 'email' from email_events where event_type in ('open', 'click')
    union
    select distinct person_id, 'store' from pos_purchases
    union
    select distinct person_id, 'ads' from ad_clicks
    union
    select distinct person_id, 'support' from tickets

),

channel_facts as (

    select
        person_id,
        {{ dbt.listagg('channel', "', '", 'order by channel') }} as channels_seen,
        count(*) as channels_count
    from channel_touches
    group by person_id

),

activity as (

    select person_id, occurred_at as active_at from events
    union all
    select person_id, ordered_at from orders
    union all
    select person_id, purchased_at from pos_purchases
    union all
    select person_id, created_at from tickets
    union all
    select person_id, occurred_at from email_events where event_type in ('open', 'click')
    union all
    select person_id, clicked_at from ad_clicks
    union all
    select person_id, created_at from crm_contacts

),

activity_span as (

    select person_id, min(active_at) as first_seen_at, max(active_at) as last_seen_at
    from activity
    group by person_id

),

record_loads as (

    {%- for model_name, spec in sources.items() %}
    {%- for name, expr in spec.watermarks.items() %}
    select person_id, '{{ name }}' as watermark, max({{ expr }}) as loaded_at
    from {{ spec.cte }}
    group by person_id
    union all
    {%- endfor %}
    {%- endfor %}
    select person_id, 'consents_recorded', max(recorded_at) from consents group by person_id
    union all
    select placed_orders.person_id, 'returns_returned', max(order_returns.returned_at)
    from order_returns
    inner join placed_orders on placed_orders.order_id = order_returns.order_id
    group by placed_orders.person_id

),

record_watermarks as (

    select
        person_id,
        max(loaded_at) as last_record_at
        {%- for name in watermark_names %},
        max(case when watermark = '{{ name }}' then loaded_at end) as watermark_{{ name }}
        {%- endfor %}
    from record_loads
    group by person_id

),

final as (

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

        identity_fingerprints.identity_fingerprint,
        record_watermarks.last_record_at
        {%- for name in watermark_names %},
        record_watermarks.watermark_{{ name }}
        {%- endfor %}
    from scope
    left join identity_fingerprints on identity_fingerprints.person_id = scope.person_id
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

select * from final
