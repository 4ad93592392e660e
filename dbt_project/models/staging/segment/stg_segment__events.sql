with

source as (

    select * from {{ ref('base_segment__events') }}

),

renamed as (

    select
        message_id as source_record_id,
        message_id,
        type as event_type,
        event as event_name,

        {{ normalise_identifier('anonymous_id') }} as anonymous_id,
        anonymous_id as anonymous_id_raw,
        {{ normalise_identifier('user_id') }} as user_id,
        user_id as user_id_raw,
        {{ normalise_identifier('device_id') }} as device_id,
        device_id as device_id_raw,
        {{ normalise_email('traits_email') }} as email,
        traits_email as email_raw,
        {{ normalise_phone('traits_phone') }} as phone,
        {{ phone_extension('traits_phone') }} as phone_extension,
        traits_phone as phone_raw,
        {{ normalise_identifier('traits_first_name') }} as first_name,
        {{ normalise_identifier('traits_last_name') }} as last_name,

        cast(timestamp as timestamp) as occurred_at,
        cast(received_at as timestamp) as received_at,

        context_channel as channel,
        context_page_url as page_url,
        context_page_path as page_path,
        context_page_referrer as page_referrer,
        context_campaign_source as utm_source,
        context_campaign_medium as utm_medium,
        context_campaign_name as utm_campaign,
        context_user_agent as user_agent,
        context_ip as ip,

        properties_product_id as product_id,
        properties_category as category,
        cast(properties_price as double) as price,
        properties_order_id as order_id,
        cast(properties_revenue as double) as revenue

    from source

)

select * from renamed
