{#-
    rfm_segment(r, f): the label of an RFM cell from the recency and frequency scores (1-5),
    on the widely used 5x5 R-by-F grid; every cell has exactly one label:

        R \ F   1               2               3               4-5
        5       new_customers   potential_loyalists             champions
        4       promising       potential_loyalists             loyal_customers
        3       about_to_sleep  about_to_sleep  need_attention  loyal_customers
        1-2     hibernating     hibernating     at_risk         at_risk (F4), cant_lose_them (F5)
    Null scores (no purchase) -> 'prospect'.
-#}
{%- macro rfm_segment(r, f) -%}
    case
        when {{ r }} is null or {{ f }} is null then 'prospect'
        when {{ r }} = 5 and {{ f }} >= 4 then 'champions'
        when {{ r }} >= 3 and {{ f }} >= 4 then 'loyal_customers'
        when {{ r }} >= 4 and {{ f }} >= 2 then 'potential_loyalists'
        when {{ r }} = 5 and {{ f }} = 1 then 'new_customers'
        when {{ r }} = 4 and {{ f }} = 1 then 'promising'
        when {{ r }} = 3 and {{ f }} = 3 then 'need_attention'
        when {{ r }} = 3 and {{ f }} <= 2 then 'about_to_sleep'
        when {{ r }} <= 2 and {{ f }} = 5 then 'cant_lose_them'
        when {{ r }} <= 2 and {{ f }} >= 3 then 'at_risk'
        else 'hibernating'
    end
{%- endmacro -%}

{#-
    profile_data_quality_score(alias): 0-100, how complete and trustworthy the contact data is.
    Weights: email 25, verified email 10, phone 15, first name 15, last name 15, country 10,
    known person (a user_id or crm_id) 10.
-#}
{%- macro profile_data_quality_score(alias) -%}
    (
        case when {{ alias }}.email is not null then 25 else 0 end
        + case when {{ alias }}.email_is_verified then 10 else 0 end
        + case when {{ alias }}.phone is not null then 15 else 0 end
        + case when {{ alias }}.first_name is not null then 15 else 0 end
        + case when {{ alias }}.last_name is not null then 15 else 0 end
        + case when {{ alias }}.country is not null then 10 else 0 end
        + case when {{ alias }}.user_id is not null or {{ alias }}.crm_id is not null
            then 10 else 0 end
    )
{%- endmacro -%}

{#-
    lifecycle_stage(orders, days_since_first_order, days_since_last_order), first match wins:
      prospect  no purchase
      new       first purchase at most lifecycle_new_days ago
      loyal     last purchase at most lifecycle_active_days ago and at least
                lifecycle_loyal_min_orders purchases
      active    last purchase at most lifecycle_active_days ago
      at_risk   last purchase at most lifecycle_churn_days ago
      churned   otherwise
    Days are whole calendar days between the purchase and the reference moment.
-#}
{%- macro lifecycle_stage(orders, days_since_first_order, days_since_last_order) -%}
    {%- set new_days = profile_int_var('lifecycle_new_days') -%}
    {%- set active_days = profile_int_var('lifecycle_active_days') -%}
    {%- set churn_days = profile_int_var('lifecycle_churn_days') -%}
    {%- set loyal_min_orders = profile_int_var('lifecycle_loyal_min_orders') -%}
    {%- if not (new_days <= active_days < churn_days) -%}
        {{ exceptions.raise_compiler_error(
            "lifecycle vars must satisfy lifecycle_new_days <= lifecycle_active_days < "
            ~ "lifecycle_churn_days; got " ~ new_days ~ ", " ~ active_days ~ ", " ~ churn_days) }}
    {%- endif -%}
    case
        when coalesce({{ orders }}, 0) = 0 then 'prospect'
        when {{ days_since_first_order }} <= {{ new_days }} then 'new'
        when {{ days_since_last_order }} <= {{ active_days }}
            and {{ orders }} >= {{ loyal_min_orders }} then 'loyal'
        when {{ days_since_last_order }} <= {{ active_days }} then 'active'
        when {{ days_since_last_order }} <= {{ churn_days }} then 'at_risk'
        else 'churned'
    end
{%- endmacro -%}

{#-
    Quintile scores without ranking every person. The cut points are the 20th, 40th, 60th and
    80th percentiles of a measure among buyers (percentile_cont: interpolated), computed once
    per build in int_profile_score_cutoffs; a person's score is 1 + the number of cut points
    their value is above (or, for a measure where lower is better, below). Equal values always
    share a score, and scoring a person is four comparisons, so customer_profiles can stay a
    view over the incrementally maintained facts.

    profile_quintile_cutoffs(measure, name): the four cut point columns name_p20 .. name_p80.
    profile_quintile_score(value, cutoffs, name, higher_is_better): the score, 1-5; null when
    value is null.
-#}
{%- macro profile_quintile_cutoffs(measure, name) -%}
    {%- for percent in [20, 40, 60, 80] %}
        percentile_cont({{ percent / 100 }}) within group (order by {{ measure }})
            as {{ name }}_p{{ percent }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro -%}

{%- macro profile_quintile_score(value, cutoffs, name, higher_is_better=true) -%}
    case when {{ value }} is not null then 1
    {%- for percent in [20, 40, 60, 80] %}
        + case when {{ value }} {{ '>' if higher_is_better else '<' }} {{ cutoffs }}.{{ name }}_p{{ percent }}
            then 1 else 0 end
    {%- endfor %}
    end
{%- endmacro -%}

{#-
    profile_clv_expected_future_value(aov, orders, days_since_first_order,
    days_since_last_order): expected purchases over var clv_horizon_days: aov x orders per year
    (over max(tenure, clv_min_tenure_days)) x horizon in years x
    exp(-days_since_last_order / clv_decay_days). Null for non-buyers.
-#}
{%- macro profile_clv_expected_future_value(aov, orders, days_since_first_order,
                                            days_since_last_order) -%}
    {%- set horizon_days = profile_int_var('clv_horizon_days') -%}
    {%- set decay_days = profile_int_var('clv_decay_days') -%}
    {%- set min_tenure_days = profile_int_var('clv_min_tenure_days') -%}
    {%- if decay_days == 0 -%}
        {{ exceptions.raise_compiler_error("clv_decay_days must be > 0") }}
    {%- endif -%}
    case
        when {{ orders }} > 0 then
            {{ aov }} * {{ orders }} * 365.0
            / (case
                when {{ days_since_first_order }} > {{ min_tenure_days }}
                    then {{ days_since_first_order }}
                else {{ min_tenure_days }}
            end)
            * {{ horizon_days }} / 365.0
            * exp(-1.0 * (case when {{ days_since_last_order }} > 0
                then {{ days_since_last_order }} else 0 end) / {{ decay_days }})
    end
{%- endmacro -%}
