-- Every person who was in an experiment's segment on or after its start, under today's
-- person id. Membership rows name the id of the day; ids merged away since then follow
-- identity's person_merges (merge rows, chains followed hop by hop) to the surviving id.
{%- set hops = 6 %}

with

arms as (

    select * from {{ ref('experiment_arms') }}

),

membership as (

    {{ experiments_membership() }}

),

person_merges as (

    select * from {{ ref('person_merges') }}

),

experiments as (

    select distinct experiment, segment, start_date from arms

),

merges as (

    -- an id is merged away once; should a log hold two rows for one id, the latest wins
    select
        cast(old_person_id as varchar) as old_person_id,
        cast(person_id as varchar) as person_id
    from (
        select
            old_person_id,
            person_id,
            row_number() over (partition by old_person_id order by merged_at desc, person_id) as rn
        from person_merges
        where change_type = 'merge'
    ) as ranked
    where rn = 1

),

stays as (

    select
        experiments.experiment,
        cast(membership.person_id as varchar) as member_person_id,
        case
            when membership.entered_at < cast(experiments.start_date as timestamp)
                then cast(experiments.start_date as timestamp)
            else membership.entered_at
        end as entered_at
    from membership
    join experiments
        on experiments.segment = membership.segment
    where membership.person_id is not null
        and (membership.exited_at is null
            or membership.exited_at >= cast(experiments.start_date as timestamp))

),

hop_0 as (

    select experiment, member_person_id, member_person_id as person_id, entered_at from stays

),
{%- for i in range(1, hops + 1) %}

hop_{{ i }} as (

    select
        hop.experiment,
        hop.member_person_id,
        coalesce(merges.person_id, hop.person_id) as person_id,
        hop.entered_at
    from hop_{{ i - 1 }} as hop
    left join merges
        on merges.old_person_id = hop.person_id

),
{%- endfor %}

final as (

    select
        experiment,
        member_person_id,
        person_id,
        min(entered_at) as entered_at
    from hop_{{ hops }}
    where entered_at <= {{ experiments_as_of() }}
    group by experiment, member_person_id, person_id

)

select * from final
