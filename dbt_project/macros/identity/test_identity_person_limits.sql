{#-
    Persons that hold more identifiers than the rules allow: more of a type than var
    identity_person_limits (emails count by mailbox), or more identifiers in all than var
    identity_max_cluster_size. Identity resolution keeps the limits by construction, so a
    row here is a runaway merge or a bug: the test fails the build (severity error).
-#}
{% test identity_person_limits(model) %}
    {%- set config = identity_config() -%}
    select
        person_id,
        identifier_count,
        {%- for id_type, limit in config.person_limits.items() if limit is not none %}
        {{ 'mailbox_count' if id_type == 'email' else id_type ~ '_count' }} as {{ id_type }}_held,
        {%- endfor %}
        'holds more identifiers than var identity_person_limits / identity_max_cluster_size'
            as problem
    from {{ model }}
    where identifier_count > {{ config.max_cluster_size }}
    {%- for id_type, limit in config.person_limits.items() if limit is not none %}
        or {{ 'mailbox_count' if id_type == 'email' else id_type ~ '_count' }} > {{ limit }}
    {%- endfor %}
{% endtest %}
