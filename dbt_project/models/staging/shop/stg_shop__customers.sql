with

source as (

    select * from {{ ref('base_shop__customers') }}

),

renamed as (

    select
        customer_id as source_record_id,
        {{ normalise_identifier('customer_id') }} as user_id,
        customer_id as user_id_raw,

        {{ normalise_email('email') }} as email,
        email as email_raw,
        {{ normalise_phone('phone') }} as phone,
        {{ phone_extension('phone') }} as phone_extension,
        phone as phone_raw,

        {{ normalise_identifier('first_name') }} as first_name,
        {{ normalise_identifier('last_name') }} as last_name,
        cast(is_email_verified as boolean) as is_email_verified,

        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at

    from source

)

select * from renamed
