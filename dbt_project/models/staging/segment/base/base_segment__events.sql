{#- The contract table segment.events as Tessera reads it: tessera_source() decides where it
    comes from (var tessera_sources.segment) and conforms it to the contract's columns. -#}
select * from {{ tessera_source('segment', 'events') }}
