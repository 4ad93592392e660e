{#- Persons with more identifiers than var identity_max_cluster_size: a runaway merge. -#}
{% test identity_max_cluster_size(model) %}
    select person_id, identifier_count
    from {{ model }}
    where identifier_count > {{ identity_config().max_cluster_size }}
{% endtest %}
