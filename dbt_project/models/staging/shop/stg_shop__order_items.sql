with

source as (

    select * from {{ ref('base_shop__order_items') }}

),

renamed as (

    select
        order_id || '-' || cast(line_number as varchar) as source_record_id,
        order_id,
        cast(line_number as integer) as line_number,

        product_id,
        category,
        cast(quantity as integer) as quantity,
        cast(unit_price as double) as unit_price,
        cast(quantity * unit_price as double) as line_amount,

        cast(ordered_at as timestamp) as ordered_at

    from source

)

select * from renamed
