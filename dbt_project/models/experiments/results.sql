-- Lift of each treatment arm against the holdout, per experiment and metric, with a 95%
-- interval and the minimum detectable effect (method: macro experiment_lift_sql).
with

outcomes as (

    select * from {{ ref('experiment_outcomes') }}

),

lift as (

    {{ experiment_lift_sql('outcomes') }}

),

final as (

    select
        cast(experiment as varchar) as experiment,
        cast(metric as varchar) as metric,
        cast(arm_treatment as varchar) as arm_treatment,
        cast(arm_holdout as varchar) as arm_holdout,
        treatment_value,
        holdout_value,
        lift,
        ci_low,
        ci_high,
        persons_treatment,
        persons_holdout,
        cast({{ experiment_literal(run_started_at.strftime('%Y-%m-%d %H:%M:%S')) }} as timestamp) as computed_at,
        difference,
        difference_ci_low,
        difference_ci_high,
        mde,
        {{ experiments_as_of() }} as measured_until,
        'normal approximation (delta method), 95%' as interval_method
    from lift

)

select * from final
