{#-
    Shopify refunds as Fivetran lands them, as the contract's shop.returns: one row per refund
    of an order the orders adapter keeps. returned_at is processed_at, else created_at; amount
    is the refund's total (GraphQL-era total_refunded_set_shop_amount), else the sum of its
    refunded lines' subtotals (order_line_refund); reason is the refund's note.
-#}
{{ config(enabled=tessera_adapter_enabled('shopify_fivetran'), materialized='ephemeral') }}

{%- set found = tessera_discover_adapter('shopify_fivetran') %}
{%- set refunds = tessera_adapter_columns('shopify_fivetran', 'refund', found) %}
{%- set line_refunds = tessera_adapter_columns('shopify_fivetran', 'order_line_refund', found) %}
{%- set r = refunds.columns %}
{%- set lr = line_refunds.columns %}

with

orders as (

    select order_id from {{ ref('adapter_shopify_fivetran__orders') }}

),

{% if line_refunds.exists -%}
line_amounts as (

    select
        {{ tessera_pick(lr, 'refund_id', 'varchar') }} as return_id,
        sum({{ tessera_pick(lr, ['subtotal', 'subtotal_set_shop_amount'], 'double') }}) as amount
    from {{ line_refunds.relation }}
    group by 1

),
{%- endif %}

{% if refunds.exists -%}
refunds as (

    select
        {{ tessera_pick(r, 'id', 'varchar') }} as return_id,
        {{ tessera_pick(r, 'order_id', 'varchar') }} as order_id,
        {{ tessera_pick(r, ['processed_at', 'created_at'], 'timestamp') }} as returned_at,
        {{ tessera_pick(r, 'total_refunded_set_shop_amount', 'double') }} as refund_total,
        {{ tessera_pick(r, 'note', 'varchar') }} as reason
    from {{ refunds.relation }}
    where not coalesce({{ tessera_pick(r, '_fivetran_deleted', 'boolean') }}, false)

),
{%- else -%}
refunds as (

    select
        cast(null as varchar) as return_id,
        cast(null as varchar) as order_id,
        cast(null as timestamp) as returned_at,
        cast(null as double) as refund_total,
        cast(null as varchar) as reason
    where 1 = 0

),
{%- endif %}

final as (

    select
        refunds.return_id,
        refunds.order_id,
        refunds.returned_at,
        coalesce(refunds.refund_total
            {{- ', line_amounts.amount' if line_refunds.exists }}) as amount,
        refunds.reason
    from refunds
    inner join orders
        on orders.order_id = refunds.order_id
    {%- if line_refunds.exists %}
    left join line_amounts
        on line_amounts.return_id = refunds.return_id
    {%- endif %}

)

select * from final
