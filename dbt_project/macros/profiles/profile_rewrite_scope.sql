{#-
    profile_rewrite_scope(index, index_rebuilt): how an incremental int_profile_facts run
    rewrites each of its touched_persons (profile_touched_persons), and which records it reads
    for them. Expects the model's CTEs persons and graph, and touched_persons and record_changes.

      - full (full_persons): the person's whole history, found through their identifiers
        (int_identifier_records, then the index) and read from staging by source_record_id
        (see resolve_person). For persons recomputed in full whatever their new records say
        (structural_changes: a changed identifier set, an absorbed merge, a changed (not new)
        record or a recent return; every touched person when index_rebuilt, the index having
        been rebuilt after this table), and for persons whose new records a delta cannot
        combine exactly (uncombinable_persons): an event on or before the day of their last
        stored event (sessions would join), a CRM record with an email or, when the stored
        email is verified, a sighting of another email, spend in a category they bought before
        that is not their favourite, and a consent record not after every stored one (consents
        are in the index too, under their subject's id type).
      - delta (delta_persons): the person's stored row (previous) combined with the facts of
        its new records only (candidate_records; see profile_combine).

    scope is every touched person still in persons, with is_delta; scope_records (source,
    source_record_id, person_id) every record the facts are computed from, resolved once from
    the index (profile_read_records joins staging to it).
-#}
{%- macro profile_rewrite_scope(index, index_rebuilt) -%}
-- persons recomputed in full whatever their new records say

structural_changes as (

    {%- if index_rebuilt %}
    select person_id from touched_persons
    {%- else %}
    select person_id from record_changes where not is_new
    union
    select person_id from changed_identities
    union
    select person_id from merged_persons
    {%- endif %}

),

delta_candidates as {{ materialized_cte() }} (

    select person_id from touched_persons
    where person_id not in (select person_id from structural_changes)
        and person_id in (select person_id from persons)

),

candidate_records as {{ materialized_cte() }} (

    select * from record_changes
    where is_new and person_id in (select person_id from delta_candidates)

),

previous_candidates as {{ materialized_cte() }} (

    select * from {{ this }}
    where person_id in (select person_id from delta_candidates)

),

-- new records a delta cannot combine exactly

candidate_category_spend as (

    select candidate_records.person_id, order_items.category
    from candidate_records
    inner join {{ ref('stg_shop__orders') }} as candidate_orders
        on candidate_orders.source_record_id = candidate_records.source_record_id
    inner join {{ ref('stg_shop__order_items') }} as order_items
        on order_items.order_id = candidate_orders.order_id
    where candidate_records.source = 'stg_shop__orders'
        and coalesce(lower(candidate_orders.status), '') not in ('cancelled', 'canceled')
        and order_items.category is not null
    union all
    select candidate_records.person_id, candidate_pos.category
    from candidate_records
    inner join {{ ref('stg_pos__purchases') }} as candidate_pos
        on candidate_pos.source_record_id = candidate_records.source_record_id
    where candidate_records.source = 'stg_pos__purchases'
        and candidate_pos.category is not null

),

stored_categories as (

    {{ profile_explode_list('previous_candidates', 'person_id', 'categories_purchased',
                            'category') }}

),

uncombinable_persons as (

    -- an event on or before the day of the last stored one: sessions may join
    select candidate_records.person_id
    from candidate_records
    inner join previous_candidates
        on previous_candidates.person_id = candidate_records.person_id
    where candidate_records.source = 'stg_segment__events'
        and cast(candidate_records.seen_at as date)
            <= cast(previous_candidates.last_event_at as date)
    union
    -- email survivorship: a CRM email may be verified; a verified winner only keeps its rank
    -- against emails whose verification is unknown here if it is the one seen again
    select candidate_records.person_id
    from candidate_records
    inner join previous_candidates
        on previous_candidates.person_id = candidate_records.person_id
    where candidate_records.email is not null
        and candidate_records.source <> 'stg_cmp__consents'
        and (
            candidate_records.source = 'stg_crm__contacts'
            or (previous_candidates.email_is_verified
                and candidate_records.email <> coalesce(previous_candidates.email, ''))
        )
    union
    -- new spend in a known category other than the favourite: its total is not stored
    select stored_categories.person_id
    from stored_categories
    inner join candidate_category_spend
        on candidate_category_spend.person_id = stored_categories.person_id
        and candidate_category_spend.category = stored_categories.category
    inner join previous_candidates
        on previous_candidates.person_id = stored_categories.person_id
    where stored_categories.category <> previous_candidates.favourite_category
        or previous_candidates.favourite_category_amount <= 0
    union
    -- a consent record not after every stored one: the latest per purpose is not stored
    select candidate_records.person_id
    from candidate_records
    inner join previous_candidates
        on previous_candidates.person_id = candidate_records.person_id
    where candidate_records.source = 'stg_cmp__consents'
        and candidate_records.seen_at <= previous_candidates.consent_updated_at

),

delta_persons as {{ materialized_cte() }} (

    select person_id from delta_candidates
    where person_id not in (select person_id from uncombinable_persons)

),

full_persons as {{ materialized_cte() }} (

    select person_id from touched_persons
    where person_id not in (select person_id from delta_persons)

),

previous as {{ materialized_cte() }} (

    select * from previous_candidates
    where person_id in (select person_id from delta_persons)

),

scope as {{ materialized_cte() }} (

    select
        persons.*,
        persons.person_id in (select person_id from delta_persons) as is_delta
    from persons
    where person_id in (select person_id from touched_persons)

),

touched_identifiers as {{ materialized_cte() }} (

    select id_type, id_value from graph
    where person_id in (select person_id from full_persons)

),

full_person_records as {{ materialized_cte() }} (

    -- records carrying an identifier of a person rebuilt in full: their record_keys from
    -- int_identifier_records (one integer semi-join), then those rows of the lean index
    select source, source_record_id, {{ person_id_priority() | join(', ') }}
    from {{ index }}
    where record_key in (
        select record_key from {{ ref('int_identifier_records') }}
        where id_hash in (
            select {{ identifier_hash('id_type', 'id_value') }} from touched_identifiers
        )
    )

),

scope_records as {{ materialized_cte() }} (

    -- every record the facts below are computed from, with its person: resolved once here
    -- from the index's identifiers (the same normalised values staging has), so staging rows
    -- are only joined by source_record_id
    select source, source_record_id, person_id
    from ({{ resolve_person('full_person_records', person_id_priority()) }}) as resolved
    where person_id in (select person_id from full_persons)
    union all
    select source, source_record_id, person_id from candidate_records
    where person_id in (select person_id from delta_persons)

)
{%- endmacro -%}
