{#-
    Data quality of the inputs and of the profiles, as a long table a dashboard or an asset
    check can watch: one row per (metric, source, field).

    Per staging source: row_count, duplicate_rate of source_record_id, missing_share of each
    watched field (normalised value null), invalid_share of email and phone (a non-empty raw
    value that normalisation rejected).
    For source 'customer_profiles': person_count, missing_share of the contact fields,
    duplicate_rate of email and phone (share of profiles with a value that another profile
    also has), mean data_quality_score.
-#}
{{ config(materialized='table') }}

{%- set contact_fields = ['email', 'phone', 'first_name', 'last_name', 'country'] %}

with

{%- for model_name, fields in profile_quality_fields().items() %}

source_{{ loop.index }} as (

    {{ source_quality_metrics(model_name, fields) }}

),
{%- endfor %}

profiles as (

    select * from {{ ref('customer_profiles') }}

),

profile_measures as (

    select
        count(*) as person_count,
        avg(cast(data_quality_score as double)) as mean_data_quality_score
        {%- for field in contact_fields %},
        count(case when {{ field }} is null then 1 end) as missing_{{ field }}
        {%- endfor %}
    from profiles

),

shared_values as (

    {%- for field in ['email', 'phone'] %}
    select '{{ field }}' as field, count(*) as profiles_sharing
    from profiles
    where {{ field }} in (
        select {{ field }} from profiles
        where {{ field }} is not null
        group by {{ field }}
        having count(*) > 1
    )
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

profile_metrics as (

    select 'row_count' as metric, 'customer_profiles' as source, '*' as field,
        cast(person_count as double) as value
    from profile_measures
    union all
    select 'mean_data_quality_score', 'customer_profiles', 'data_quality_score',
        mean_data_quality_score
    from profile_measures
    {%- for field in contact_fields %}
    union all
    select 'missing_share', 'customer_profiles', '{{ field }}',
        case when person_count > 0 then cast(missing_{{ field }} as double) / person_count end
    from profile_measures
    {%- endfor %}
    union all
    select 'duplicate_rate', 'customer_profiles', shared_values.field,
        case
            when profile_measures.person_count > 0
                then cast(shared_values.profiles_sharing as double) / profile_measures.person_count
        end
    from shared_values
    cross join profile_measures

),

final as (

    {%- for model_name in profile_quality_fields() %}
    select * from source_{{ loop.index }}
    union all
    {%- endfor %}
    select * from profile_metrics

)

select * from final
