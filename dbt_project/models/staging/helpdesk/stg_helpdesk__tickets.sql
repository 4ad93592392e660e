with

source as (

    select * from {{ ref('base_helpdesk__support_tickets') }}

),

renamed as (

    select
        ticket_id as source_record_id,
        ticket_id,

        {{ normalise_email('requester_email') }} as email,
        requester_email as email_raw,
        {{ normalise_phone('requester_phone') }} as phone,
        {{ phone_extension('requester_phone') }} as phone_extension,
        requester_phone as phone_raw,

        channel,
        subject,
        status,
        priority,
        sentiment,

        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at

    from source

)

select * from renamed
