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

    select
        placed_orders.person_id,
        order_items.category,
        coalesce(order_items.line_amount, 0) as amount
    from order_items
    inner join placed_orders on placed_orders.order_id = order_items.order_id
    where order_items.category is not null
    union all
    select person_id, category, coalesce(total, 0)
    from pos_purchases
    where category is not null
    {%- if incremental %}
    union all
    -- a delta person's stored categories: the favourite with its total, the others unknown
    -- (a delta never adds to them)
    select
        stored.person_id,
        stored.category,
        case when stored.category = previous.favourite_category
            then previous.favourite_category_amount end
    from ({{ profile_explode_list('previous', 'person_id', 'categories_purchased',
                                  'category') }}) as stored
    inner join previous on previous.person_id = stored.person_id
    {%- endif %}

),

category_totals as {{ materialized_cte() }} (

    select person_id, category, sum(amount) as amount
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

    select person_id, category as favourite_category, amount as favourite_category_amount
    from (
        select
            person_id,
            category,
            amount,
            row_number() over (
                partition by person_id order by amount desc nulls last, category
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
        {%- for purpose in ['email', 'sms', 'ads', 'analytics'] %}
        max(case when purpose = '{{ purpose }}' then 1 else 0 end) = 1
            as has_consent_{{ purpose }},
        {%- endfor %}
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
    {%- if incremental %}
    union
    {{ profile_explode_list('previous', 'person_id', 'channels_seen', 'channel') }}
    {%- endif %}

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
