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
