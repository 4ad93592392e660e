{#-
    Shopify customers as Fivetran lands them, as the contract's shop.customers: one row per
    customer account Fivetran has not marked deleted. customer_id is the id orders carry as
    customer_id; is_email_verified is verified_email; updated_at is _fivetran_synced, else
    updated_at.
-#}
{{ config(enabled=tessera_adapter_enabled('shopify_fivetran'), materialized='ephemeral') }}

{%- set found = tessera_discover_adapter('shopify_fivetran') %}
{%- set customers = tessera_adapter_columns('shopify_fivetran', 'customer', found) %}
{%- set c = customers.columns %}

{% if customers.exists -%}
select
    {{ tessera_pick(c, 'id', 'varchar') }} as customer_id,
    {{ tessera_pick(c, 'email', 'varchar') }} as email,
    {{ tessera_pick(c, 'phone', 'varchar') }} as phone,
    {{ tessera_pick(c, 'first_name', 'varchar') }} as first_name,
    {{ tessera_pick(c, 'last_name', 'varchar') }} as last_name,
    {{ tessera_pick(c, 'verified_email', 'boolean') }} as is_email_verified,
    {{ tessera_pick(c, 'created_at', 'timestamp') }} as created_at,
    {{ tessera_pick(c, ['_fivetran_synced', 'updated_at'], 'timestamp') }} as updated_at
from {{ customers.relation }}
where not coalesce({{ tessera_pick(c, '_fivetran_deleted', 'boolean') }}, false)
{%- else -%}
select
    {%- for column in ['customer_id', 'email', 'phone', 'first_name', 'last_name'] %}
    cast(null as varchar) as {{ column }},
    {%- endfor %}
    cast(null as boolean) as is_email_verified,
    cast(null as timestamp) as created_at,
    cast(null as timestamp) as updated_at
where 1 = 0
{%- endif %}
