-- The persons each sync must not send (the contract reverse_etl/suppression.py reads): every
-- current person whose hash falls in a started experiment's holdout arm, for each of the
-- experiment's syncs. Every person, not only the members recorded so far, so a person who
-- joins the segment between two membership refreshes is held out from the first send.
with

arms as (

    select * from {{ ref('experiment_arms') }}

),

experiment_syncs as (

    select * from {{ ref('experiment_syncs') }}

),

persons as (

    select * from {{ ref('persons') }}

),

holdout_arms as (

    select * from arms
    where is_holdout
        and cast(start_date as timestamp) <= {{ experiments_as_of() }}

),

bucketed as (

    select
        holdout_arms.experiment,
        holdout_arms.arm,
        holdout_arms.bucket_low,
        holdout_arms.bucket_high,
        cast(persons.person_id as varchar) as person_id,
        {{ experiment_bucket('holdout_arms.salt', 'persons.person_id') }} as bucket
    from holdout_arms
    cross join persons

),

final as (

    select distinct
        cast(experiment_syncs.sync_name as varchar) as sync_name,
        bucketed.person_id,
        cast(bucketed.experiment as varchar) as experiment,
        cast(bucketed.arm as varchar) as arm
    from bucketed
    join experiment_syncs
        on experiment_syncs.experiment = bucketed.experiment
    where bucketed.bucket >= bucketed.bucket_low
        and bucketed.bucket < bucketed.bucket_high

)

select * from final
