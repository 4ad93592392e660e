with

source as (

    select * from {{ ref('base_esp__email_events') }}

),

renamed as (

    select
        event_id as source_record_id,
        event_id,

        {{ normalise_email('email') }} as email,
        email as email_raw,

        campaign_id,
        event_type,
        url,

        cast(occurred_at as timestamp) as occurred_at

    from source

)

select * from renamed
