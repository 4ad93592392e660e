{#-
    Per-person facts that depend only on the person's own records (counts, sums, first/last
    timestamps, survivorship winners, latest consent): nothing relative to as_of and nothing
    ranked across persons, so a person's row changes only when their records or identifiers do.
    customer_profiles adds the relative and ranked traits on top.

    Incremental (delete+insert on person_id). What changed since the last run comes from the
    index int_record_identifiers: records whose indexed_at is after this table's
    watermark_indexed (the index's latest indexed_at when this table was last built) are new
    (first_indexed_at after it) or changed. A run rewrites the rows of the persons they touch,
    in one of two ways:
      - delta: the person's stored row combined with the facts of its new records only (counts
        and sums add, first/last timestamps take the min/max, survivorship winners: the stored
        winner competes with the new candidates; see profile_combine). Used when that is exact:
        the person's identifiers are unchanged and nothing but new records arrived.
      - full: the person's whole history, found through their identifiers
        (int_identifier_records, then the index) and read from staging by source_record_id
        (see resolve_person). Used for persons whose identifier set changed (merges, splits,
        newly linked identifiers: among the persons identity assigned an identifier to or
        took one from since the last run, per identity_graph.resolved_at and
        previous_person_id, those whose identity fingerprint differs or who have no row
        yet), persons that absorbed a merge (identity.person_merges rows
        whose old_person_id still has a row here), persons with a changed (not new) record or a
        return recorded within var profile_lookback_days of the latest processed one, and
        persons whose new records a delta cannot combine exactly: an event on or before the day
        of their last stored event (sessions would join), a CRM record with an email or, when
        the stored email is verified, a sighting of another email, spend in a category they
        bought before that is not their favourite, and a consent record not after every stored
        one (consents are in the index too, under their subject's id type).
    The rows of persons that no longer exist in identity.persons (merged away) are deleted by
    the post-hook. If the index was rebuilt after this table (its oldest first_indexed_at is
    after watermark_indexed), every record looks new: every person is then recomputed in full.
    The index must be current when this table is built (dbt runs it first when both are
    selected): a record a full build read from staging but the index had not yet seen would
    later look new and be counted twice by a delta.
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
{%- set index = ref('int_record_identifiers') -%}
{%- set watermark_names = [] -%}
{%- for spec in sources.values() -%}
    {%- for name in spec.watermarks -%}{%- do watermark_names.append(name) -%}{%- endfor -%}
{%- endfor -%}
{%- do watermark_names.extend(['consents_recorded', 'returns_returned']) -%}
{#- the output columns in order, with how a delta combines the stored and the new value
    (profile_combine); the watermark and delta-state columns follow in the final CTE -#}
{%- set combined = [
    ('person_id', 'keep'), ('is_known', 'keep'), ('user_id', 'keep'), ('crm_id', 'keep'),
    ('loyalty_id', 'keep'), ('email', 'keep'), ('email_is_verified', 'keep'), ('phone', 'keep'),
    ('first_name', 'keep'), ('last_name', 'keep'), ('name_source', 'keep'), ('country', 'keep'),
    ('emails_count', 'keep'), ('phones_count', 'keep'), ('devices_count', 'keep'),
    ('anonymous_ids_count', 'keep'), ('first_seen_at', 'min'), ('last_seen_at', 'max'),
    ('channels_seen', 'keep'), ('channels_count', 'keep'), ('events_count', 'add'),
    ('sessions_count', 'add'), ('page_views_count', 'add'), ('product_views_count', 'add'),
    ('cart_adds_count', 'add'), ('abandoned_carts_count', 'add'), ('last_session_at', 'max'),
    ('last_abandoned_cart_at', 'max'), ('online_orders_count', 'add'),
    ('store_purchases_count', 'add'), ('online_revenue', 'add'), ('store_revenue', 'add'),
    ('returns_count', 'add'), ('returns_amount', 'add'), ('first_order_at', 'min'),
    ('last_order_at', 'max'), ('categories_purchased', 'keep'), ('categories_count', 'keep'),
    ('favourite_category', 'keep'), ('emails_sent', 'add'), ('email_opens', 'add'),
    ('email_clicks', 'add'), ('email_bounces', 'add'), ('email_unsubscribed', 'or'),
    ('last_email_engaged_at', 'max'), ('tickets_count', 'add'), ('open_tickets_count', 'add'),
    ('last_ticket_at', 'max'), ('last_ticket_sentiment', 'keep'), ('ad_clicks_count', 'add'),
    ('ad_spend_total', 'add'), ('last_ad_click_at', 'max'), ('crm_contacts_count', 'add'),
    ('consent_email', 'consent'), ('consent_sms', 'consent'), ('consent_ads', 'consent'),
    ('consent_analytics', 'consent'), ('consent_updated_at', 'max'),
    ('identity_fingerprint', 'keep'), ('last_record_at', 'max')
] -%}
{%- set refresh = profile_refresh_since(watermark_names, index, incremental) -%}
with

-- depends_on: {{ ref('person_merges') }}
-- depends_on: {{ index }}
-- depends_on: {{ ref('int_identifier_records') }}

persons as (

    select person_id, is_known from {{ ref('persons') }}

),

graph as (

    select id_type, id_value, person_id from {{ ref('identity_graph') }}

),

identity_now as (

    select max(resolved_at) as resolved_at from {{ ref('identity_graph') }}

),

index_now as (

    select max(indexed_at) as indexed_at from {{ index }}

),

{%- if incremental %}

-- what changed since the last run

{{ profile_touched_persons(index, refresh.since, refresh.indexed_since,
                           refresh.resolved_since) }},

{{ profile_rewrite_scope(index, refresh.index_rebuilt) }},

{%- else %}

scope as {{ materialized_cte() }} (

    select *, false as is_delta from persons

),

{%- endif %}

-- resolved records of the persons in scope

events as {{ materialized_cte() }} (

    {{ profile_read_records('stg_segment__events', incremental) }}

),

orders as {{ materialized_cte() }} (

    {{ profile_read_records('stg_shop__orders', incremental) }}

),

crm_contacts as {{ materialized_cte() }} (

    {{ profile_read_records('stg_crm__contacts', incremental) }}

),

email_events as {{ materialized_cte() }} (

    {{ profile_read_records('stg_esp__email_events', incremental) }}

),

tickets as {{ materialized_cte() }} (

    {{ profile_read_records('stg_helpdesk__tickets', incremental) }}

),

pos_purchases as {{ materialized_cte() }} (

    {{ profile_read_records('stg_pos__purchases', incremental) }}

),

ad_clicks as {{ materialized_cte() }} (

    {{ profile_read_records('stg_ads__ad_clicks', incremental) }}

),

consents as {{ materialized_cte() }} (

    {{ profile_read_records('stg_cmp__consents', incremental) }}

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

{{ profile_identifier_facts() }},

-- survivorship: contact fields

{{ profile_survivorship(incremental) }},

-- web behaviour

{{ profile_web_facts() }},

-- commerce

{{ profile_commerce_facts(incremental) }},

-- email engagement, support, ads

{{ profile_engagement_facts(incremental) }},

-- consent: the latest record per purpose for any of the person's identifiers wins; a
-- revocation beats a grant recorded at the same instant

{{ profile_consent_facts() }},

-- channels and activity span

{{ profile_activity_facts(incremental) }},

{{ profile_record_watermarks(sources, watermark_names) }},

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

),

final as (

    -- a delta person's row: its stored facts combined with those of its new records
    select
        {%- for name, how in combined %}
        {%- if how == 'consent' %}
        {#- the latest record per purpose: a new one (after every stored one) replaces it -#}
        {{ profile_combine('previous', 'computed.' ~ name, 'previous.' ~ name, incremental,
            is_delta='computed.is_delta and not computed.has_' ~ name) }} as {{ name }},
        {%- else %}
        {{ profile_combine(how, 'computed.' ~ name, 'previous.' ~ name, incremental) }}
            as {{ name }},
        {%- endif %}
        {%- endfor %}
        {%- for name in watermark_names %}
        {{ profile_combine('max', 'computed.watermark_' ~ name, 'previous.watermark_' ~ name,
                           incremental) }} as watermark_{{ name }},
        {%- endfor %}
        computed.watermark_indexed,
        computed.watermark_identity,
        {%- for name in ['email_seen_at', 'phone_seen_at', 'name_seen_at', 'name_record_id',
                         'country_ordered_at', 'country_order_id'] %}
        computed.{{ name }},
        {%- endfor %}
        {{ profile_combine('max', 'computed.last_event_at', 'previous.last_event_at',
                           incremental) }} as last_event_at,
        computed.favourite_category_amount,
        computed.last_ticket_id,
        case when computed.is_delta then 'delta' else 'full' end as refresh_path
    from computed
    {%- if incremental %}
    left join previous on previous.person_id = computed.person_id
    {%- endif %}

)

select * from final
