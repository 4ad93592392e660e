{#- The contract table crm.crm_contacts as Tessera reads it: tessera_source() decides where it
    comes from (var tessera_sources.crm) and conforms it to the contract's columns. -#}
select * from {{ tessera_source('crm', 'crm_contacts') }}
