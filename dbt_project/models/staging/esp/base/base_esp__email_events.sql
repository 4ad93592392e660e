{#- The contract table esp.email_events as Tessera reads it: tessera_source() decides where it
    comes from (var tessera_sources.esp) and conforms it to the contract's columns. -#}
select * from {{ tessera_source('esp', 'email_events') }}
