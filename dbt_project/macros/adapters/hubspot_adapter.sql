{#-
    hubspot_property(columns, name, data_type): a HubSpot property's column as Fivetran
    (property_<name>) or Airbyte (properties_<name>) names it, as data_type.
-#}
{%- macro hubspot_property(columns, name, data_type) -%}
    {{ return(tessera_pick(columns, ['property_' ~ name, 'properties_' ~ name], data_type)) }}
{%- endmacro -%}
