{{ config(materialized='view') }}

{{ resolve_source('stg_crm__contacts') }}
