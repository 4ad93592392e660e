{#-
    The reference moment of this build, one row. Relative traits (days since last order,
    lifecycle, "last 30 days" windows) and the features' scoring cutoff are measured from it, so
    a build is deterministic for given data and vars (never current_date).
-#}
{{ config(materialized='table') }}

{%- set as_of = profile_var('as_of') %}

with

activity_maxima as (

    select max(occurred_at) as latest_at from {{ ref('stg_segment__events') }}
    union all
    select max(ordered_at) from {{ ref('stg_shop__orders') }}
    union all
    select max(purchased_at) from {{ ref('stg_pos__purchases') }}
    union all
    select max(occurred_at) from {{ ref('stg_esp__email_events') }}
    union all
    select max(created_at) from {{ ref('stg_helpdesk__tickets') }}
    union all
    select max(clicked_at) from {{ ref('stg_ads__ad_clicks') }}

),

data_end as (

    select max(latest_at) as latest_activity_at from activity_maxima

),

final as (

    select
        {%- if as_of %}
        cast('{{ as_of }}' as timestamp) as as_of,
        cast(cast('{{ as_of }}' as timestamp) as date) as scoring_cutoff,
        {%- else %}
        latest_activity_at as as_of,
        cast({{ dbt.dateadd('day', 1, 'cast(latest_activity_at as date)') }} as date)
            as scoring_cutoff,
        {%- endif %}
        latest_activity_at,
        {{ 'true' if as_of else 'false' }} as is_as_of_from_var
    from data_end

)

select * from final
