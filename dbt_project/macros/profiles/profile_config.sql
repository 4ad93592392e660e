{#-
    profile_var(name): a profiles/features dbt var with its default, read in one place so every
    model agrees on the defaults before dbt_project.yml lists them.

    as_of                       reference moment for relative traits (days since, lifecycle,
                                "last 30 days" windows) and the features' scoring cutoff.
                                none: the latest activity timestamp in the data.
    profile_lookback_days       incremental refresh: records stamped up to this many days before
                                the last processed record are re-read (late arrivals).
    session_timeout_minutes     inactivity gap that ends a web/app session.
    lifecycle_new_days          first purchase at most this many days ago -> new.
    lifecycle_active_days       last purchase at most this many days ago -> active (or loyal).
    lifecycle_churn_days        last purchase more than this many days ago -> churned; between
                                active and churn days -> at_risk.
    lifecycle_loyal_min_orders  active with at least this many orders -> loyal.
    clv_horizon_days            CLV: how far ahead expected purchases are projected.
    clv_decay_days              CLV: expected value decays as exp(-days since last order / this).
    clv_min_tenure_days         CLV: purchase rate is orders / max(tenure, this).
    feature_cutoffs             list of cutoff dates ('YYYY-MM-DD'); none: monthly, generated.
    feature_cutoff_count        generated cutoffs: per label horizon, the last N month starts
                                whose window is complete.
    label_active_days           prediction task population `active`: a purchase this many days
                                before the cutoff.
    (prediction_tasks and prediction_fallback_days: macros/features/prediction_tasks.sql)
-#}
{%- macro profile_var_defaults() -%}
    {{ return({
        'as_of': none,
        'profile_lookback_days': 3,
        'session_timeout_minutes': 30,
        'lifecycle_new_days': 30,
        'lifecycle_active_days': 90,
        'lifecycle_churn_days': 365,
        'lifecycle_loyal_min_orders': 3,
        'clv_horizon_days': 365,
        'clv_decay_days': 180,
        'clv_min_tenure_days': 90,
        'feature_cutoffs': none,
        'feature_cutoff_count': 8,
        'label_active_days': 365,
    }) }}
{%- endmacro -%}

{%- macro profile_var(name) -%}
    {%- set defaults = profile_var_defaults() -%}
    {%- if name not in defaults -%}
        {{ exceptions.raise_compiler_error("profile_var: unknown profile var '" ~ name ~ "'") }}
    {%- endif -%}
    {%- set value = var(name, defaults[name]) -%}
    {%- if defaults[name] is number and value is not number -%}
        {%- set parsed = value | float(none) if value is string else none -%}
        {%- if parsed is none -%}
            {{ exceptions.raise_compiler_error(
                "dbt var '" ~ name ~ "' must be a number, got '" ~ value ~ "'") }}
        {%- endif -%}
        {%- set value = parsed | int if parsed == parsed | int else parsed -%}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro -%}

{%- macro profile_int_var(name) -%}
    {%- set value = profile_var(name) -%}
    {%- if value is not number or value < 0 or value != value | int -%}
        {{ exceptions.raise_compiler_error(
            "dbt var '" ~ name ~ "' must be a whole number of days/minutes/orders >= 0, got '"
            ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value | int) }}
{%- endmacro -%}
