{{ config(materialized='view') }}

{{ resolve_source('stg_segment__events') }}
