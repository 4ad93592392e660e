{#- The contract table ads.ad_clicks as Tessera reads it: tessera_source() decides where it
    comes from (var tessera_sources.ads) and conforms it to the contract's columns. -#}
select * from {{ tessera_source('ads', 'ad_clicks') }}
