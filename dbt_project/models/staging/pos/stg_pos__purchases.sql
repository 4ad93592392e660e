with

source as (

    select * from {{ ref('base_pos__pos_purchases') }}

),

renamed as (

    select
        transaction_id as source_record_id,
        transaction_id,
        store_id,

        {{ normalise_identifier('loyalty_id') }} as loyalty_id,
        loyalty_id as loyalty_id_raw,
        {{ normalise_phone('phone') }} as phone,
        {{ phone_extension('phone') }} as phone_extension,
        phone as phone_raw,
        {{ normalise_email('email') }} as email,
        email as email_raw,

        cast(total as double) as total,
        cast(item_count as integer) as item_count,
        category,
        payment_method,

        cast(purchased_at as timestamp) as purchased_at

    from source

)

select * from renamed
