{#- The contract table pos.pos_purchases as Tessera reads it: tessera_source() decides where it
    comes from (var tessera_sources.pos) and conforms it to the contract's columns. -#}
select * from {{ tessera_source('pos', 'pos_purchases') }}
