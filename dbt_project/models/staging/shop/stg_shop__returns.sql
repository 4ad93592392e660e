with

source as (

    select * from {{ ref('base_shop__returns') }}

),

renamed as (

    select
        return_id as source_record_id,
        return_id,
        order_id,

        cast(amount as double) as amount,
        reason,

        cast(returned_at as timestamp) as returned_at

    from source

)

select * from renamed
