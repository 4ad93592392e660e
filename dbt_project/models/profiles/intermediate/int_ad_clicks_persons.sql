{{ config(materialized='view') }}

{{ resolve_source('stg_ads__ad_clicks') }}
