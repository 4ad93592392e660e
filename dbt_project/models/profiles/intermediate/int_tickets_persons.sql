{{ config(materialized='view') }}

{{ resolve_source('stg_helpdesk__tickets') }}
