{#-
    profile_final(watermark_names, incremental): the int_profile_facts CTE final, the row the
    model writes: each output column of computed combined with the stored one (the model's CTE
    previous) as the list below says (profile_combine; in a full build every column is the
    computed one), then the watermark columns, the delta state and refresh_path ('delta' or
    'full'). A consent column keeps the stored value for a delta person without a new record
    for its purpose.
-#}
{%- macro profile_final(watermark_names, incremental) -%}
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
{%- endmacro -%}
