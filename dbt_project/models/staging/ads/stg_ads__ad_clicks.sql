with

source as (

    select * from {{ ref('base_ads__ad_clicks') }}

),

renamed as (

    select
        click_id as source_record_id,
        click_id,
        platform,
        campaign_id,
        campaign_name,
        ad_group,

        {{ normalise_identifier('anonymous_id') }} as anonymous_id,
        anonymous_id as anonymous_id_raw,
        {{ normalise_identifier('device_id') }} as device_id,
        device_id as device_id_raw,

        cast(cost as double) as cost,
        landing_url,

        cast(clicked_at as timestamp) as clicked_at

    from source

)

select * from renamed
