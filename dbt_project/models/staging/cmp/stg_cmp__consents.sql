with

source as (

    select * from {{ ref('base_cmp__consents') }}

),

renamed as (

    select
        consent_id as source_record_id,
        consent_id,

        lower(trim(subject_type)) as subject_type,
        case lower(trim(subject_type))
            when 'email' then {{ normalise_email('subject_id') }}
            when 'phone' then {{ normalise_phone('subject_id') }}
            else {{ normalise_identifier('subject_id') }}
        end as subject_id,
        subject_id as subject_id_raw,

        lower(trim(purpose)) as purpose,
        lower(trim(status)) as status,
        source.source as consent_source,

        cast(recorded_at as timestamp) as recorded_at

    from source

)

select * from renamed
