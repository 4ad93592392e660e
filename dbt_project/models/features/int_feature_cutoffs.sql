{#-
    The cutoff dates features are computed at, oldest first, plus the scoring cutoff
    (profile_as_of.scoring_cutoff: var as_of, or the day after the latest activity).
    var feature_cutoffs lists them explicitly; unset, they are generated from the data: the last
    var feature_cutoff_count month starts whose purchase-label window is complete, so demo data
    ending on any date gets usable training cutoffs.
-#}
{{ config(materialized='table') }}

{%- set explicit = feature_cutoff_dates() %}
{%- set count = profile_int_var('feature_cutoff_count') %}
{%- set purchase_days = profile_int_var('label_purchase_days') %}
{%- set churn_days = profile_int_var('label_churn_days') %}

with

as_of as (

    select scoring_cutoff from {{ ref('profile_as_of') }}

),

{%- if explicit %}

training_cutoffs as (

    {%- for day in explicit %}
    select cast('{{ day }}' as date) as cutoff_date
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

{%- else %}

month_offsets as (

    {%- for offset in range(count + 3) %}
    select {{ offset }} as months_back
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

month_starts as (

    select
        cast({{ dbt.dateadd('month', '-1 * month_offsets.months_back',
            dbt.date_trunc('month', 'as_of.scoring_cutoff')) }} as date) as cutoff_date
    from month_offsets
    cross join as_of

),

complete_month_starts as (

    select
        month_starts.cutoff_date,
        row_number() over (order by month_starts.cutoff_date desc) as recency
    from month_starts
    cross join as_of
    where {{ dbt.dateadd('day', purchase_days, 'month_starts.cutoff_date') }}
        <= as_of.scoring_cutoff

),

training_cutoffs as (

    select cutoff_date from complete_month_starts where recency <= {{ count }}

),

{%- endif %}

all_cutoffs as (

    select cutoff_date from training_cutoffs
    union
    select scoring_cutoff from as_of

),

final as (

    select
        all_cutoffs.cutoff_date,
        all_cutoffs.cutoff_date = as_of.scoring_cutoff as is_scoring_cutoff,
        {{ dbt.dateadd('day', purchase_days, 'all_cutoffs.cutoff_date') }}
            <= as_of.scoring_cutoff as purchase_label_complete,
        {{ dbt.dateadd('day', churn_days, 'all_cutoffs.cutoff_date') }}
            <= as_of.scoring_cutoff as churn_label_complete
    from all_cutoffs
    cross join as_of

)

select * from final
