{#-
    profile_activity_facts(incremental): the int_profile_facts CTEs of channels and activity
    span, from the model's record CTEs: channel_touches and channel_facts (the channels a
    person was seen on; with incremental a delta person's stored channels are among them),
    activity and activity_span (first_seen_at and last_seen_at over the person's events,
    orders, store purchases, tickets, email opens and clicks, ad clicks and CRM contacts).
-#}
{%- macro profile_activity_facts(incremental) -%}
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

)
{%- endmacro -%}
