with

source as (

    select * from {{ ref('base_cmp__consents') }}

),

renamed as (

    select
        consent_id as source_record_id,
        consent_id,

        subject_type,
        case subject_type
            when 'email' then {{ normalise_email('subject_id') }}
            when 'phone' then {{ normalise_phone('subject_id') }}
            else {{ normalise_identifier('subject_id') }}
        end as subject_id,
        subject_id as subject_id_raw,

        purpose,
        status,
        source.source as consent_source,

        cast(recorded_at as timestamp) as recorded_at

    from source

)

select * from renamed
