{#-
    Shopify order lines as Fivetran lands them, as the contract's shop.order_items: lines of
    the orders the orders adapter keeps. line_number is the line's index (REST), else its rank
    by line id within the order (GraphQL); unit_price is price, else the line's original total
    over its quantity; category is the product's product_type (table product, when loaded).
-#}
{{ config(enabled=tessera_adapter_enabled('shopify_fivetran'), materialized='ephemeral') }}

{%- set found = tessera_discover_adapter('shopify_fivetran') %}
{%- set lines = tessera_adapter_columns('shopify_fivetran', 'order_line', found) %}
{%- set products = tessera_adapter_columns('shopify_fivetran', 'product', found) %}
{%- set l = lines.columns %}
{%- set p = products.columns %}

with

orders as (

    select order_id, ordered_at from {{ ref('adapter_shopify_fivetran__orders') }}

),

{% if products.exists -%}
products as (

    select
        {{ tessera_pick(p, 'id', 'varchar') }} as product_id,
        {{ tessera_pick(p, 'product_type', 'varchar') }} as category
    from {{ products.relation }}

),
{%- endif %}

{% if lines.exists -%}
lines as (

    select
        {{ tessera_pick(l, 'order_id', 'varchar') }} as order_id,
        coalesce(
            {{ tessera_pick(l, 'index', 'integer') }},
            cast(row_number() over (
                partition by {{ tessera_pick(l, 'order_id', 'varchar') }}
                order by {{ tessera_pick(l, 'id', 'varchar') }}
            ) as integer)
        ) as line_number,
        {{ tessera_pick(l, 'product_id', 'varchar') }} as product_id,
        {{ tessera_pick(l, 'quantity', 'integer') }} as quantity,
        coalesce(
            {{ tessera_pick(l, 'price', 'double') }},
            {{ tessera_pick(l, 'original_total_set_shop_amount', 'double') }}
                / nullif({{ tessera_pick(l, 'quantity', 'double') }}, 0)
        ) as unit_price
    from {{ lines.relation }}
    where not coalesce({{ tessera_pick(l, '_fivetran_deleted', 'boolean') }}, false)

),
{%- else -%}
lines as (

    select
        cast(null as varchar) as order_id,
        cast(null as integer) as line_number,
        cast(null as varchar) as product_id,
        cast(null as integer) as quantity,
        cast(null as double) as unit_price
    where 1 = 0

),
{%- endif %}

final as (

    select
        lines.order_id,
        lines.line_number,
        lines.product_id,
        {{ 'products.category' if products.exists else 'cast(null as varchar)' }} as category,
        lines.quantity,
        lines.unit_price,
        orders.ordered_at
    from lines
    inner join orders
        on orders.order_id = lines.order_id
    {%- if products.exists %}
    left join products
        on products.product_id = lines.product_id
    {%- endif %}

)

select * from final
