{#-
    Segment's (and RudderStack's) warehouse schema as the contract's segment.events: one row per
    call from tracks, pages, screens and identifies (users only when there is no identifies
    table), deduplicated on the message id (a loader may deliver a call twice; the latest
    received wins).
      - track: event is event_text (the name as sent; `event` is its snake_case slug); the
        e-commerce properties (product_id, category, price, order_id, revenue or total) come
        from the call's row in its per-event table (product_viewed ... order_completed)
      - page and screen: type page; url, path and referrer from the call's properties, else
        its context.page
      - identify: traits from their columns (email, phone, first_name, last_name), else from
        context.traits; users rows become one identify each (id as the message id prefix)
      - every call: traits from context.traits when the library sends them (RudderStack does),
        the channel from context.os / context.library (ios, android, else web), the device id
        from context.device.id
    Columns the loader has not created yet are null; a table it has not created is skipped.
-#}
{{ config(enabled=tessera_adapter_enabled('segment'), materialized='ephemeral') }}

{%- set call_tables = {'tracks': 'track', 'pages': 'page', 'screens': 'page',
                       'identifies': 'identify'} %}
{%- set property_tables = ['product_viewed', 'product_added', 'checkout_started',
                           'order_completed'] %}
{%- set found = tessera_discover_adapter('segment') %}
{%- set relations = {} %}
{%- for name in call_tables.keys() | list + ['users'] + property_tables %}
    {%- set table = tessera_adapter_columns('segment', name, found) %}
    {%- if table.exists %}
        {%- do relations.update({name: table}) %}
    {%- endif %}
{%- endfor %}

with

calls as (

    {%- set branches = [] %}
    {%- for name, call_type in call_tables.items() if name in relations %}
        {%- do branches.append(segment_adapter_call(relations[name].relation, call_type,
                                                   relations[name].columns)) %}
    {%- endfor %}
    {%- if 'users' in relations and 'identifies' not in relations %}
        {%- set u = relations['users'].columns %}
        {%- set branch %}
    select
        'users:' || {{ tessera_pick(u, 'id', 'varchar') }} as message_id,
        'identify' as type,
        cast(null as varchar) as event,
        cast(null as varchar) as anonymous_id,
        {{ tessera_pick(u, 'id', 'varchar') }} as user_id,
        cast(null as varchar) as device_id,
        {{ tessera_pick(u, ['received_at', 'uuid_ts'], 'timestamp') }} as timestamp,
        {{ tessera_pick(u, ['received_at', 'uuid_ts'], 'timestamp') }} as received_at,
        'web' as context_channel,
        {%- for column in ['context_page_url', 'context_page_path', 'context_page_referrer',
                           'context_campaign_source', 'context_campaign_medium',
                           'context_campaign_name', 'context_user_agent', 'context_ip'] %}
        cast(null as varchar) as {{ column }},
        {%- endfor %}
        {%- for trait in ['email', 'phone', 'first_name', 'last_name'] %}
        {{ tessera_pick(u, [trait, 'context_traits_' ~ trait], 'varchar') }} as traits_{{ trait }},
        {%- endfor %}
        {{ tessera_pick(u, ['received_at', 'uuid_ts'], 'timestamp') }} as _sort_received_at
    from {{ relations['users'].relation }}
        {%- endset %}
        {%- do branches.append(branch) %}
    {%- endif %}
    {%- if branches %}
    {{ branches | join('\n    union all\n') }}
    {%- else %}
    select
        {%- for column in ['message_id', 'type', 'event', 'anonymous_id', 'user_id', 'device_id'] %}
        cast(null as varchar) as {{ column }},
        {%- endfor %}
        cast(null as timestamp) as timestamp,
        cast(null as timestamp) as received_at,
        {%- for column in ['context_channel', 'context_page_url', 'context_page_path',
                           'context_page_referrer', 'context_campaign_source',
                           'context_campaign_medium', 'context_campaign_name',
                           'context_user_agent', 'context_ip', 'traits_email', 'traits_phone',
                           'traits_first_name', 'traits_last_name'] %}
        cast(null as varchar) as {{ column }},
        {%- endfor %}
        cast(null as timestamp) as _sort_received_at
    where 1 = 0
    {%- endif %}

),

properties as (

    select
        cast(null as varchar) as message_id,
        cast(null as varchar) as product_id,
        cast(null as varchar) as category,
        cast(null as double) as price,
        cast(null as varchar) as order_id,
        cast(null as double) as revenue
    where 1 = 0
    {%- for name in property_tables if name in relations %}
        {%- set p = relations[name].columns %}
    union all
    select
        {{ tessera_pick(p, 'id', 'varchar') }},
        {{ tessera_pick(p, 'product_id', 'varchar') }},
        {{ tessera_pick(p, 'category', 'varchar') }},
        {{ tessera_pick(p, 'price', 'double') }},
        {{ tessera_pick(p, 'order_id', 'varchar') }},
        {{ tessera_pick(p, ['revenue', 'total'], 'double') }}
    from {{ relations[name].relation }}
    {%- endfor %}

),

unique_calls as (

    select * from calls
    where message_id is not null
    qualify row_number() over (
        partition by message_id order by _sort_received_at desc nulls last
    ) = 1

),

unique_properties as (

    select * from properties
    qualify row_number() over (partition by message_id order by message_id) = 1

),

final as (

    select
        unique_calls.message_id,
        unique_calls.type,
        unique_calls.event,
        unique_calls.anonymous_id,
        unique_calls.user_id,
        unique_calls.device_id,
        unique_calls.timestamp,
        unique_calls.received_at,
        unique_calls.context_channel,
        unique_calls.context_page_url,
        unique_calls.context_page_path,
        unique_calls.context_page_referrer,
        unique_calls.context_campaign_source,
        unique_calls.context_campaign_medium,
        unique_calls.context_campaign_name,
        unique_calls.context_user_agent,
        unique_calls.context_ip,
        unique_calls.traits_email,
        unique_calls.traits_phone,
        unique_calls.traits_first_name,
        unique_calls.traits_last_name,
        unique_properties.product_id as properties_product_id,
        unique_properties.category as properties_category,
        unique_properties.price as properties_price,
        unique_properties.order_id as properties_order_id,
        unique_properties.revenue as properties_revenue
    from unique_calls
    left join unique_properties
        on unique_properties.message_id = unique_calls.message_id
        and unique_calls.type = 'track'

)

select * from final
