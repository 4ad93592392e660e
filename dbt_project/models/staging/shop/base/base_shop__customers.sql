{#- The contract table shop.customers as Tessera reads it: tessera_source() decides where it
    comes from (var tessera_sources.shop) and conforms it to the contract's columns. -#}
select * from {{ tessera_source('shop', 'customers') }}
