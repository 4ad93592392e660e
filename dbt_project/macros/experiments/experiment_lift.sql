{#-
    Lift of each treatment arm against its experiment's holdout, from per-person outcomes.

    `outcomes` names a relation or CTE with one row per assigned person: experiment, arm,
    is_holdout, converted (0/1) and revenue. Two metrics per treatment arm: conversion_rate
    (share of persons with a purchase in the window) and revenue_per_person.

    Interval: normal approximation (delta method), 95%, computed from each arm's count, sum
    and sum of squares, so it runs where the orders are and on any warehouse:
    - difference t - h: +/- 1.96 * sqrt(s_t^2 / n_t + s_h^2 / n_h) (Welch, unpooled)
    - relative lift t / h - 1: exp(log(t / h) +/- 1.96 * sqrt(s_t^2 / (n_t t^2) + s_h^2 / (n_h h^2))) - 1
      (the log ratio is closer to normal than the ratio; null when either mean is 0)
    - minimum detectable effect (relative, 80% power, two-sided 5%): (1.96 + 0.8416) *
      s_h * sqrt(1 / n_t + 1 / n_h) / h, at the arms' current sizes.
    Coverage is checked on 100 simulated experiments in tests/experiments/test_lift_coverage.py.
-#}
{%- macro experiment_lift_sql(outcomes) -%}
    with arm_stats as (
        select
            experiment,
            arm,
            max(case when is_holdout then 1 else 0 end) as is_holdout,
            count(*) as persons,
            cast(sum(converted) as double) as sum_converted,
            cast(sum(converted * converted) as double) as sumsq_converted,
            cast(sum(revenue) as double) as sum_revenue,
            cast(sum(revenue * revenue) as double) as sumsq_revenue
        from {{ outcomes }}
        group by experiment, arm
    ),

    metric_stats as (
        {%- for metric, column in [('conversion_rate', 'converted'), ('revenue_per_person', 'revenue')] %}
        select
            experiment,
            arm,
            is_holdout,
            '{{ metric }}' as metric,
            persons,
            sum_{{ column }} / persons as mean_value,
            case when persons > 1
                then greatest(
                    (sumsq_{{ column }} - sum_{{ column }} * sum_{{ column }} / persons) / (persons - 1),
                    0)
            end as variance
        from arm_stats
        {{ 'union all' if not loop.last }}
        {%- endfor %}
    ),

    paired as (
        select
            t.experiment,
            t.metric,
            t.arm as arm_treatment,
            h.arm as arm_holdout,
            t.mean_value as treatment_value,
            h.mean_value as holdout_value,
            t.persons as persons_treatment,
            h.persons as persons_holdout,
            t.variance / t.persons + h.variance / h.persons as var_difference,
            case when t.mean_value > 0 and h.mean_value > 0
                then t.variance / (t.persons * t.mean_value * t.mean_value)
                    + h.variance / (h.persons * h.mean_value * h.mean_value)
            end as var_log_ratio,
            h.variance as holdout_variance
        from metric_stats as t
        join metric_stats as h
            on h.experiment = t.experiment
            and h.metric = t.metric
            and h.is_holdout = 1
        where t.is_holdout = 0
    )

    select
        experiment,
        metric,
        arm_treatment,
        arm_holdout,
        treatment_value,
        holdout_value,
        case when holdout_value > 0 then treatment_value / holdout_value - 1 end as lift,
        case when var_log_ratio is not null
            then exp(ln(treatment_value / holdout_value) - 1.959964 * sqrt(var_log_ratio)) - 1
        end as ci_low,
        case when var_log_ratio is not null
            then exp(ln(treatment_value / holdout_value) + 1.959964 * sqrt(var_log_ratio)) - 1
        end as ci_high,
        treatment_value - holdout_value as difference,
        treatment_value - holdout_value - 1.959964 * sqrt(var_difference) as difference_ci_low,
        treatment_value - holdout_value + 1.959964 * sqrt(var_difference) as difference_ci_high,
        case when holdout_value > 0 and holdout_variance is not null
            then 2.801585 * sqrt(holdout_variance * (1.0 / persons_treatment + 1.0 / persons_holdout))
                / holdout_value
        end as mde,
        persons_treatment,
        persons_holdout
    from paired
{%- endmacro -%}
