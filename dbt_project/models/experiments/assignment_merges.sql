-- Both ids of every merged member: the id the person entered the segment under, the arm that
-- id hashes to, and the surviving id and arm the person keeps.
with

arms as (

    select * from {{ ref('experiment_arms') }}

),

members as (

    select * from {{ ref('int_experiment_members') }}

),

assignments as (

    select * from {{ ref('assignments') }}

),

merged as (

    select
        members.experiment,
        members.member_person_id as old_person_id,
        members.person_id,
        {{ experiment_bucket('experiment_salts.salt', 'members.member_person_id') }} as old_bucket
    from members
    join (select distinct experiment, salt from arms) as experiment_salts
        on experiment_salts.experiment = members.experiment
    where members.member_person_id <> members.person_id

),

final as (

    select
        merged.experiment,
        merged.old_person_id,
        old_arms.arm as old_arm,
        merged.person_id,
        assignments.arm,
        old_arms.arm <> assignments.arm as arm_changed
    from merged
    join assignments
        on assignments.experiment = merged.experiment
        and assignments.person_id = merged.person_id
    join arms as old_arms
        on old_arms.experiment = merged.experiment
        and merged.old_bucket >= old_arms.bucket_low
        and merged.old_bucket < old_arms.bucket_high

)

select * from final
