{{ config(materialized='view') }}

{{ resolve_source('stg_shop__orders') }}
