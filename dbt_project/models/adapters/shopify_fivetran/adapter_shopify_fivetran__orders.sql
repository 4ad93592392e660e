{#-
    Shopify orders as Fivetran lands them, as the contract's shop.orders. Test orders and rows
    Fivetran marks deleted are left out. Columns of both Fivetran schemas are read (REST-era
    `currency`, `total_price`; GraphQL-era `currency_code`, `total_price_set_shop_amount`):
      ordered_at   processed_at (the order date Shopify reports), else created_at
      status       cancelled when cancelled_at is set; refunded when the financial status is
                   refunded or voided; else completed (partial refunds stay completed: the
                   refund is in shop.returns)
      user_id      customer_id: the same id as shop.customers and, when the storefront sends
                   it as the Segment userId, the web events'
      phone        the buyer's: the order's phone, else the billing address's, else the
                   shipping address's when it is addressed to the buyer (its name is the
                   billing name, or either name is missing). A gift shipped to someone else
                   carries the recipient's phone, which would join the buyer with them.
      subtotal     total_line_items_price (before discounts), else the subtotal
      item_count   the sum of its lines' quantities
      updated_at   _fivetran_synced (when the row reached the warehouse), else updated_at
-#}
{{ config(enabled=tessera_adapter_enabled('shopify_fivetran'), materialized='ephemeral') }}

{%- set found = tessera_discover_adapter('shopify_fivetran') %}
{%- set orders = tessera_adapter_columns('shopify_fivetran', 'order', found) %}
{%- set lines = tessera_adapter_columns('shopify_fivetran', 'order_line', found) %}
{%- set o = orders.columns %}
{%- set shipping_name = tessera_pick(o, 'shipping_address_name', 'varchar') %}
{%- set billing_name = tessera_pick(o, 'billing_address_name', 'varchar') %}
{%- set l = lines.columns %}

with

{% if lines.exists -%}
line_counts as (

    select
        {{ tessera_pick(l, 'order_id', 'varchar') }} as order_id,
        cast(sum({{ tessera_pick(l, 'quantity', 'integer') }}) as integer) as item_count
    from {{ lines.relation }}
    where not coalesce({{ tessera_pick(l, '_fivetran_deleted', 'boolean') }}, false)
    group by 1

),
{%- endif %}

{% if orders.exists -%}
orders as (

    select
        {{ tessera_pick(o, 'id', 'varchar') }} as order_id,
        {{ tessera_pick(o, 'email', 'varchar') }} as customer_email,
        coalesce(
            {{ tessera_pick(o, ['phone', 'billing_address_phone'], 'varchar') }},
            case
                when {{ shipping_name }} is null or {{ billing_name }} is null
                    or lower(trim({{ shipping_name }})) = lower(trim({{ billing_name }}))
                    then {{ tessera_pick(o, 'shipping_address_phone', 'varchar') }}
            end
        ) as customer_phone,
        {{ tessera_pick(o, 'customer_id', 'varchar') }} as user_id,
        cast(null as varchar) as anonymous_id,
        {{ tessera_pick(o, ['processed_at', 'created_at'], 'timestamp') }} as ordered_at,
        {{ tessera_pick(o, 'cancelled_at', 'timestamp') }} as cancelled_at,
        lower({{ tessera_pick(o, ['financial_status', 'display_financial_status'], 'varchar') }})
            as financial_status,
        upper({{ tessera_pick(o, ['currency', 'currency_code'], 'varchar') }}) as currency,
        {{ tessera_pick(o, ['total_line_items_price', 'subtotal_price',
                            'subtotal_price_set_shop_amount'], 'double') }} as subtotal,
        {{ tessera_pick(o, ['total_discounts', 'total_discounts_set_shop_amount'], 'double') }}
            as discount,
        {{ tessera_pick(o, 'total_shipping_price_set_shop_amount', 'double') }} as shipping,
        {{ tessera_pick(o, ['total_price', 'total_price_set_shop_amount'], 'double') }} as total,
        upper({{ tessera_pick(o, 'shipping_address_country_code', 'varchar') }})
            as shipping_country,
        {{ tessera_pick(o, 'shipping_address_zip', 'varchar') }} as shipping_zip,
        {{ tessera_pick(o, ['_fivetran_synced', 'updated_at'], 'timestamp') }} as updated_at
    from {{ orders.relation }}
    where not coalesce({{ tessera_pick(o, 'test', 'boolean') }}, false)
        and not coalesce({{ tessera_pick(o, '_fivetran_deleted', 'boolean') }}, false)

),
{%- else -%}
orders as (

    select
        {%- for column in ['order_id', 'customer_email', 'customer_phone', 'user_id',
                           'anonymous_id'] %}
        cast(null as varchar) as {{ column }},
        {%- endfor %}
        cast(null as timestamp) as ordered_at,
        cast(null as timestamp) as cancelled_at,
        cast(null as varchar) as financial_status,
        cast(null as varchar) as currency,
        {%- for column in ['subtotal', 'discount', 'shipping', 'total'] %}
        cast(null as double) as {{ column }},
        {%- endfor %}
        cast(null as varchar) as shipping_country,
        cast(null as varchar) as shipping_zip,
        cast(null as timestamp) as updated_at
    where 1 = 0

),
{%- endif %}

final as (

    select
        orders.order_id,
        orders.customer_email,
        orders.customer_phone,
        orders.user_id,
        orders.anonymous_id,
        orders.ordered_at,
        case
            when orders.cancelled_at is not null then 'cancelled'
            when orders.financial_status in ('refunded', 'voided') then 'refunded'
            else 'completed'
        end as status,
        orders.currency,
        orders.subtotal,
        orders.discount,
        orders.shipping,
        orders.total,
        {{ 'line_counts.item_count' if lines.exists else 'cast(null as integer)' }} as item_count,
        orders.shipping_country,
        orders.shipping_zip,
        orders.updated_at
    from orders
    {%- if lines.exists %}
    left join line_counts
        on line_counts.order_id = orders.order_id
    {%- endif %}

)

select * from final
