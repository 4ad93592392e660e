{#- Generic data tests used by the profile and feature models (no dbt hub packages here). -#}

{#- Rows where the column is outside [min_value, max_value] (nulls pass). -#}
{% test value_between(model, column_name, min_value, max_value) %}
    select *
    from {{ model }}
    where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}

{#- Combinations of `columns` that occur more than once. -#}
{% test unique_combination(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{#- (identifier, record) pairs of the index `index` missing from `model`
    (int_identifier_records): a missing pair would hide a record from the full refresh of its
    person. -#}
{% test covers_index_identifiers(model, index) %}
    with

    expected as (
        {%- for id_type in person_id_priority() %}
        select
            {{ identifier_hash("'" ~ id_type ~ "'", id_type) }} as id_hash,
            record_key,
            '{{ id_type }}' as id_type,
            source,
            source_record_id
        from {{ index }}
        where {{ id_type }} is not null
        {{ 'union all' if not loop.last }}
        {%- endfor %}
    )

    select expected.*
    from expected
    left join {{ model }} as covered
        on covered.id_hash = expected.id_hash
        and covered.record_key = expected.record_key
    where covered.record_key is null
{% endtest %}
