{#-
    The cutoff dates features are computed at, oldest first, plus the scoring cutoff
    (var features_as_of, else profile_as_of.scoring_cutoff: var as_of, or the day after the
    latest activity).

    var feature_cutoffs lists them explicitly. Unset, they follow the data: for every label
    horizon a prediction task needs (prediction_horizons: each task's horizon_days and the
    fallback prediction_fallback_days), the last var feature_cutoff_count month starts whose
    window is complete by the scoring cutoff, and only month starts after the first record
    (a cutoff with no history before it has no rows to learn from). Explicit cutoffs before
    the first record are kept and flagged (has_history = false) so ml/ can report them.
-#}
{{ config(materialized='table') }}

{%- set explicit = feature_cutoff_dates() %}
{%- set count = profile_int_var('feature_cutoff_count') %}
{%- set horizons = prediction_horizons() %}
{%- set longest = horizons | max %}
{%- set features_as_of = features_as_of() %}

with

as_of as (

    {%- if features_as_of %}
    select cast('{{ features_as_of }}' as date) as scoring_cutoff
    from {{ ref('profile_as_of') }}
    {%- else %}
    select scoring_cutoff from {{ ref('profile_as_of') }}
    {%- endif %}

),

first_record as (

    select min(activity_date) as first_record_date
    from {{ ref('int_person_daily_activity') }}

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

    {#- enough month starts back for `count` training cutoffs one horizon before validation -#}
    {%- for offset in range(count + 2 * (longest // 28) + 3) %}
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

with_history as (

    select month_starts.cutoff_date
    from month_starts
    cross join first_record
    where month_starts.cutoff_date > first_record.first_record_date

),

{%- for horizon in horizons %}

validation_{{ horizon }} as (

    -- the latest month start whose {{ horizon }}-day window is complete: validation
    select max(with_history.cutoff_date) as cutoff_date
    from with_history
    cross join as_of
    where {{ dbt.dateadd('day', horizon, 'with_history.cutoff_date') }} <= as_of.scoring_cutoff

),

training_{{ horizon }} as (

    -- month starts whose window ends by that validation cutoff: training, the last N
    select
        with_history.cutoff_date,
        row_number() over (order by with_history.cutoff_date desc) as recency
    from with_history
    cross join validation_{{ horizon }}
    where {{ dbt.dateadd('day', horizon, 'with_history.cutoff_date') }}
        <= validation_{{ horizon }}.cutoff_date

),

{%- endfor %}

training_cutoffs as (

    {%- for horizon in horizons %}
    select cutoff_date from validation_{{ horizon }} where cutoff_date is not null
    union
    select cutoff_date from training_{{ horizon }} where recency <= {{ count }}
    {{ 'union' if not loop.last }}
    {%- endfor %}

),

{%- endif %}

all_cutoffs as (

    select cutoff_date from training_cutoffs
    cross join as_of
    where training_cutoffs.cutoff_date < as_of.scoring_cutoff
    union
    select scoring_cutoff from as_of

),

final as (

    select
        all_cutoffs.cutoff_date,
        all_cutoffs.cutoff_date = as_of.scoring_cutoff as is_scoring_cutoff,
        cast({{ dbt.datediff('all_cutoffs.cutoff_date', 'as_of.scoring_cutoff', 'day') }}
            as integer) as observed_days,
        coalesce(all_cutoffs.cutoff_date > first_record.first_record_date, false)
            as has_history,
        first_record.first_record_date
    from all_cutoffs
    cross join as_of
    cross join first_record

)

select * from final
