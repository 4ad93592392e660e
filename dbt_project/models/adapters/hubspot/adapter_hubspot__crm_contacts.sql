{#-
    HubSpot contacts as Fivetran (`property_<name>` columns) or Airbyte (`properties_<name>`)
    lands them, as the contract's crm.crm_contacts. Contacts marked deleted (_fivetran_deleted,
    Airbyte's archived) are left out.
      email, names, company     the email, firstname, lastname, company properties
      phone                     phone, else mobilephone
      external_user_id          the property named by tessera_sources.crm.user_id_property
      lead_source               hs_analytics_source (HubSpot's original source)
      created_at                createdate, else the record's createdAt
      updated_at                when the loader wrote the row (_fivetran_synced,
                                _airbyte_extracted_at), else lastmodifieddate
-#}
{{ config(enabled=tessera_adapter_enabled('hubspot'), materialized='ephemeral') }}

{%- set found = tessera_discover_adapter('hubspot') %}
{%- set contacts = tessera_adapter_columns('hubspot', 'contact', found) %}
{%- set c = contacts.columns %}
{%- set user_id_property = tessera_adapter_setting('hubspot', 'user_id_property', none) %}



{% if contacts.exists -%}
select
    {{ tessera_pick(c, ['id', 'vid'], 'varchar') }} as contact_id,
    {{ hubspot_property(c, 'email', 'varchar') }} as email,
    coalesce({{ hubspot_property(c, 'phone', 'varchar') }}, {{ hubspot_property(c, 'mobilephone', 'varchar') }})
        as phone,
    {{ hubspot_property(c, 'firstname', 'varchar') }} as first_name,
    {{ hubspot_property(c, 'lastname', 'varchar') }} as last_name,
    {{ hubspot_property(c, 'company', 'varchar') }} as company,
    {{ tessera_pick(c, [user_id_property], 'varchar') if user_id_property
       else 'cast(null as varchar)' }} as external_user_id,
    {{ hubspot_property(c, 'hs_analytics_source', 'varchar') }} as lead_source,
    cast(null as boolean) as is_email_verified,
    coalesce({{ hubspot_property(c, 'createdate', 'timestamp') }},
             {{ tessera_pick(c, ['createdat', 'created_at'], 'timestamp') }}) as created_at,
    coalesce({{ tessera_pick(c, ['_fivetran_synced', '_airbyte_extracted_at'], 'timestamp') }},
             {{ hubspot_property(c, 'lastmodifieddate', 'timestamp') }},
             {{ tessera_pick(c, ['updatedat', 'updated_at'], 'timestamp') }}) as updated_at
from {{ contacts.relation }}
where not coalesce({{ tessera_pick(c, ['_fivetran_deleted', 'archived'], 'boolean') }}, false)
{%- else -%}
select
    {%- for column in ['contact_id', 'email', 'phone', 'first_name', 'last_name', 'company',
                       'external_user_id', 'lead_source'] %}
    cast(null as varchar) as {{ column }},
    {%- endfor %}
    cast(null as boolean) as is_email_verified,
    cast(null as timestamp) as created_at,
    cast(null as timestamp) as updated_at
where 1 = 0
{%- endif %}
