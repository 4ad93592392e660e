{#- The contract table cmp.consents as Tessera reads it: tessera_source() decides where it
    comes from (var tessera_sources.cmp) and conforms it to the contract's columns. -#}
select * from {{ tessera_source('cmp', 'consents') }}
