{#-
    Append-only log of merges: old_person_id was merged into person_id at merged_at, because
    new edges joined the two persons and the older id survived. Destinations replay it to
    merge their contacts. full_refresh=false: a --full-refresh never erases the history.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['old_person_id', 'person_id', 'merged_at'],
        incremental_strategy='delete+insert',
        full_refresh=false,
    )
}}

with

graph as (

    select * from {{ ref('identity_graph') }}

),

live_persons as (

    select distinct person_id from graph

),

changed as (

    select distinct
        previous_person_id as old_person_id,
        person_id,
        person_changed_at as merged_at

    from graph
    where previous_person_id is not null
        and previous_person_id <> person_id
    {%- if is_incremental() %}
        and person_changed_at > (
            select coalesce(max(merged_at), cast('1900-01-01' as timestamp)) from {{ this }}
        )
    {%- endif %}

),

final as (

    {# a split leaves the old id alive: only ids that no longer exist were merged #}
    select c.*
    from changed c
    left join live_persons l on l.person_id = c.old_person_id
    where l.person_id is null

)

select * from final
