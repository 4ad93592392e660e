{#-
    Append-only log of person changes, both ways, so destinations can follow them:
      merge  old_person_id no longer exists: new edges joined it to person_id, the older
             person, whose id survived
      split  old_person_id still exists but some of its identifiers now belong to person_id
             (a hub found, a number recycled, a person limit, a rule change or a deletion
             took away the edge that held them): a destination that sent old_person_id those
             identifiers' data should send the new person's
    merged_at is when the change happened (the run that made it). full_refresh=false: a
    --full-refresh never erases the history.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['old_person_id', 'person_id', 'merged_at'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
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

    select
        c.old_person_id,
        c.person_id,
        c.merged_at,
        case when l.person_id is null then 'merge' else 'split' end as change_type

    from changed c
    left join live_persons l on l.person_id = c.old_person_id

)

select * from final
