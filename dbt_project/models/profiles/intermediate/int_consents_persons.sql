{{ config(materialized='view') }}

{{ resolve_consent_subjects() }}
