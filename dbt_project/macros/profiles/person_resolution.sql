{#-
    How a staging record finds its person, written once.

    A record carries zero or more normalised identifiers. Each is looked up in
    identity.identity_graph (id_type, id_value) and the person of the highest-priority identifier
    found wins (identity_config().id_priority: user_id, crm_id, email, phone, loyalty_id,
    device_id, anonymous_id by default). Placeholders and shared devices are not in the graph,
    so the coalesce skips them; a record none of whose identifiers is in the graph gets a null
    person_id.

    resolve_person(relation, id_types, where=none, restrict_to_records=none)
        A SELECT of every column of `relation` plus person_id and person_resolved_by (the id type
        that matched). `relation` has one column per id type, named as the id type.
        where                SQL filter applied to the relation before the lookups.
        restrict_to_records  a SELECT of source_record_id values: only those records are read
                             (a plain-column filter the warehouse pushes into the scan, so the
                             other records are never normalised). The incremental profile
                             refresh passes the records of the persons it rebuilds, found in
                             int_record_identifiers.

    resolve_source(model_name, ...): resolve_person for a model of profile_sources().

    resolve_consent_subjects(where=none, restrict_to_identifiers=none): consent records with the
    person of their subject (subject_type, subject_id); restrict_to_identifiers names a relation
    with an id_value column (only subjects among those values are read).

    profile_sources(): per staging model, the id types it carries, the int_profile_facts CTE
    holding its resolved records, and its watermark expressions: timestamps that move forward
    when a record is new or changed. int_profile_facts keeps, per person, the max of each
    (watermark_<name>); the incremental refresh re-reads the records whose value is at or after
    that column's max over the table minus the lookback. Events have two: received_at catches
    late arrivals of any age once loaded, occurred_at covers sources whose load clock ran ahead.
-#}

{%- macro person_id_priority() -%}
    {#- the same order identity uses (var identity_id_priority) -#}
    {{ return(identity_config().id_priority) }}
{%- endmacro -%}

{%- macro profile_sources() -%}
    {{ return({
        'stg_segment__events': {
            'id_types': ['user_id', 'email', 'phone', 'device_id', 'anonymous_id'],
            'cte': 'events',
            'watermarks': {'events_received': 'coalesce(received_at, occurred_at)',
                           'events_occurred': 'occurred_at'}},
        'stg_shop__orders': {
            'id_types': ['user_id', 'email', 'phone', 'anonymous_id'],
            'cte': 'orders',
            'watermarks': {'orders_updated': 'coalesce(updated_at, ordered_at)'}},
        'stg_crm__contacts': {
            'id_types': ['user_id', 'crm_id', 'email', 'phone'],
            'cte': 'crm_contacts',
            'watermarks': {'crm_contacts_updated': 'coalesce(updated_at, created_at)'}},
        'stg_esp__email_events': {
            'id_types': ['email'],
            'cte': 'email_events',
            'watermarks': {'email_events_occurred': 'occurred_at'}},
        'stg_helpdesk__tickets': {
            'id_types': ['email', 'phone'],
            'cte': 'tickets',
            'watermarks': {'tickets_updated': 'coalesce(updated_at, created_at)'}},
        'stg_pos__purchases': {
            'id_types': ['email', 'phone', 'loyalty_id'],
            'cte': 'pos_purchases',
            'watermarks': {'pos_purchases_purchased': 'purchased_at'}},
        'stg_ads__ad_clicks': {
            'id_types': ['device_id', 'anonymous_id'],
            'cte': 'ad_clicks',
            'watermarks': {'ad_clicks_clicked': 'clicked_at'}},
    }) }}
{%- endmacro -%}

{%- macro resolve_person(relation, id_types, where=none, restrict_to_records=none) -%}
    {%- set ordered = [] -%}
    {%- for id_type in person_id_priority() -%}
        {%- if id_type in id_types -%}{%- do ordered.append(id_type) -%}{%- endif -%}
    {%- endfor -%}
    {%- set unknown = id_types | reject('in', ordered) | list -%}
    {%- if unknown or not ordered -%}
        {{ exceptions.raise_compiler_error(
            "resolve_person(" ~ relation ~ "): id types must be among "
            ~ person_id_priority() | join(', ') ~ "; got " ~ id_types | join(', ')) }}
    {%- endif -%}
    select
        src.*,
        coalesce(
            {%- for id_type in ordered %}
            graph_{{ id_type }}.person_id{{ ',' if not loop.last }}
            {%- endfor %}
        ) as person_id,
        case
            {%- for id_type in ordered %}
            when graph_{{ id_type }}.person_id is not null then '{{ id_type }}'
            {%- endfor %}
        end as person_resolved_by
    from (
        select * from {{ relation }}
        where ({{ where if where else 'true' }})
        {%- if restrict_to_records %}
            and source_record_id in ({{ restrict_to_records }})
        {%- endif %}
    ) as src
    {%- for id_type in ordered %}
    left join {{ ref('identity_graph') }} as graph_{{ id_type }}
        on graph_{{ id_type }}.id_type = '{{ id_type }}'
        and graph_{{ id_type }}.id_value = src.{{ id_type }}
    {%- endfor %}
{%- endmacro -%}

{%- macro resolve_source(model_name, where=none, restrict_to_records=none) -%}
    {%- set sources = profile_sources() -%}
    {%- if model_name not in sources -%}
        {{ exceptions.raise_compiler_error(
            "resolve_source: '" ~ model_name ~ "' is not in profile_sources()") }}
    {%- endif -%}
    {{ resolve_person(ref(model_name), sources[model_name].id_types, where,
                      restrict_to_records) }}
{%- endmacro -%}

{%- macro resolve_consent_subjects(where=none, restrict_to_identifiers=none) -%}
    {#- Consent records name one subject (email, phone or user_id): it resolves directly. -#}
    select
        consents.*,
        graph.person_id
    from {{ ref('stg_cmp__consents') }} as consents
    left join {{ ref('identity_graph') }} as graph
        on graph.id_type = consents.subject_type
        and graph.id_value = consents.subject_id
    where ({{ where if where else 'true' }})
    {%- if restrict_to_identifiers %}
        and consents.subject_id in (select id_value from {{ restrict_to_identifiers }})
    {%- endif %}
{%- endmacro -%}
