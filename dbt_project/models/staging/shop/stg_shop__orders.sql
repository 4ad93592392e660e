with

source as (

    select * from {{ ref('base_shop__orders') }}

),

renamed as (

    select
        order_id as source_record_id,
        order_id,

        {{ normalise_email('customer_email') }} as email,
        customer_email as email_raw,
        {{ normalise_phone('customer_phone', region_lookup='shipping_phone_region') }} as phone,
        {{ phone_extension('customer_phone') }} as phone_extension,
        customer_phone as phone_raw,
        {{ normalise_identifier('user_id') }} as user_id,
        user_id as user_id_raw,
        {{ normalise_identifier('anonymous_id') }} as anonymous_id,
        anonymous_id as anonymous_id_raw,

        -- the contract: null means completed
        coalesce(lower({{ normalise_identifier('status') }}), 'completed') as status,
        upper(currency) as currency,
        cast(subtotal as double) as subtotal,
        cast(discount as double) as discount,
        cast(shipping as double) as shipping,
        cast(total as double) as total,
        cast(item_count as integer) as item_count,
        upper({{ normalise_identifier('shipping_country') }}) as shipping_country,
        {{ normalise_identifier('shipping_zip') }} as shipping_zip,

        cast(ordered_at as timestamp) as ordered_at,
        cast(updated_at as timestamp) as updated_at

    from source
    {{ phone_region_lookup('shipping_country', 'shipping_phone_region') }}

)

select * from renamed
