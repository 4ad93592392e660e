-- One row per experiment and person: the arm from the hash of the person id and the
-- experiment's salt (macro experiment_bucket), assigned when the person first entered the
-- segment on or after the start. A merged person keeps the surviving id's arm; the ids
-- merged into it are reported in assignment_merges.
with

arms as (

    select * from {{ ref('experiment_arms') }}

),

members as (

    select * from {{ ref('int_experiment_members') }}

),

persons as (

    select
        experiment,
        person_id,
        min(entered_at) as assigned_at,
        count(distinct member_person_id) as member_ids
    from members
    group by experiment, person_id

),

bucketed as (

    select
        persons.experiment,
        persons.person_id,
        persons.assigned_at,
        persons.member_ids,
        {{ experiment_bucket('experiment_salts.salt', 'persons.person_id') }} as bucket
    from persons
    join (select distinct experiment, salt from arms) as experiment_salts
        on experiment_salts.experiment = persons.experiment

),

final as (

    select
        bucketed.experiment,
        bucketed.person_id,
        arms.arm,
        bucketed.assigned_at,
        arms.segment,
        arms.is_holdout,
        bucketed.bucket,
        bucketed.member_ids
    from bucketed
    join arms
        on arms.experiment = bucketed.experiment
        and bucketed.bucket >= arms.bucket_low
        and bucketed.bucket < arms.bucket_high

)

select * from final
