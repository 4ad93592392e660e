{{ config(materialized='view') }}

{{ resolve_source('stg_pos__purchases') }}
