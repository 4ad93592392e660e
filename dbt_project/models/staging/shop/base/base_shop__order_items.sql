{#- The contract table shop.order_items as Tessera reads it: tessera_source() decides where it
    comes from (var tessera_sources.shop) and conforms it to the contract's columns. -#}
select * from {{ tessera_source('shop', 'order_items') }}
