{{ config(materialized='view') }}

{{ resolve_source('stg_esp__email_events') }}
