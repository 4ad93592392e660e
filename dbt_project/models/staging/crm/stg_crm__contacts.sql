with

source as (

    select * from {{ ref('base_crm__crm_contacts') }}

),

renamed as (

    select
        contact_id as source_record_id,
        {{ normalise_identifier('contact_id') }} as crm_id,
        contact_id as crm_id_raw,

        {{ normalise_email('email') }} as email,
        email as email_raw,
        {{ normalise_phone('phone') }} as phone,
        {{ phone_extension('phone') }} as phone_extension,
        phone as phone_raw,
        {{ normalise_identifier('external_user_id') }} as user_id,
        external_user_id as user_id_raw,

        {{ normalise_identifier('first_name') }} as first_name,
        {{ normalise_identifier('last_name') }} as last_name,
        {{ normalise_identifier('company') }} as company,
        lead_source,
        cast(is_email_verified as boolean) as is_email_verified,

        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at

    from source

)

select * from renamed
