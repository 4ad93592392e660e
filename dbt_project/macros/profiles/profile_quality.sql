{#-
    profile_quality_fields(): per staging model, the fields profile_quality watches:
    field name -> raw column (for invalid_share) or none (no raw column kept).
    invalid_share applies to email and phone (and consent subjects): a non-empty raw value that
    the normalisation rejected.

    source_quality_metrics(model, fields, invalid_fields): one SELECT, one scan of the model,
    returning the long rows (metric, source, field, value).
-#}
{%- macro profile_quality_fields() -%}
    {{ return({
        'stg_segment__events': {
            'anonymous_id': 'anonymous_id_raw', 'user_id': 'user_id_raw',
            'device_id': 'device_id_raw', 'email': 'email_raw', 'phone': 'phone_raw'},
        'stg_shop__orders': {
            'email': 'email_raw', 'phone': 'phone_raw', 'user_id': 'user_id_raw',
            'anonymous_id': 'anonymous_id_raw', 'shipping_country': none},
        'stg_crm__contacts': {
            'crm_id': 'crm_id_raw', 'email': 'email_raw', 'phone': 'phone_raw',
            'user_id': 'user_id_raw', 'first_name': none, 'last_name': none},
        'stg_esp__email_events': {'email': 'email_raw'},
        'stg_helpdesk__tickets': {'email': 'email_raw', 'phone': 'phone_raw'},
        'stg_pos__purchases': {
            'loyalty_id': 'loyalty_id_raw', 'phone': 'phone_raw', 'email': 'email_raw'},
        'stg_ads__ad_clicks': {'anonymous_id': 'anonymous_id_raw', 'device_id': 'device_id_raw'},
        'stg_cmp__consents': {'subject_id': 'subject_id_raw'},
    }) }}
{%- endmacro -%}

{%- macro source_quality_metrics(model_name, fields) -%}
    {%- set invalid_checked = ['email', 'phone', 'subject_id'] -%}
    {%- set source = model_name | replace('stg_', '', 1) -%}
    with measured as (
        select
            count(*) as row_count,
            count(*) - count(distinct source_record_id) as duplicate_ids
            {%- for field, raw_col in fields.items() %},
            count(case when {{ field }} is null then 1 end) as missing_{{ field }}
            {%- if raw_col and field in invalid_checked %},
            count(case when {{ field }} is null
                and {{ normalise_identifier(raw_col) }} is not null then 1 end)
                as invalid_{{ field }}
            {%- endif %}
            {%- endfor %}
        from {{ ref(model_name) }}
    )
    select 'row_count' as metric, '{{ source }}' as source, '*' as field,
        cast(row_count as double) as value
    from measured
    union all
    select 'duplicate_rate', '{{ source }}', 'source_record_id',
        case when row_count > 0 then cast(duplicate_ids as double) / row_count end
    from measured
    {%- for field, raw_col in fields.items() %}
    union all
    select 'missing_share', '{{ source }}', '{{ field }}',
        case when row_count > 0 then cast(missing_{{ field }} as double) / row_count end
    from measured
    {%- if raw_col and field in invalid_checked %}
    union all
    select 'invalid_share', '{{ source }}', '{{ field }}',
        case when row_count > 0 then cast(invalid_{{ field }} as double) / row_count end
    from measured
    {%- endif %}
    {%- endfor %}
{%- endmacro -%}
