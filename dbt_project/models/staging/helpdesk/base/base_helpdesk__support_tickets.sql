{#- The contract table helpdesk.support_tickets as Tessera reads it: tessera_source() decides where it
    comes from (var tessera_sources.helpdesk) and conforms it to the contract's columns. -#}
select * from {{ tessera_source('helpdesk', 'support_tickets') }}
