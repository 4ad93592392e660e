{#-
    profile_touched_persons(index, since, indexed_since, resolved_since): the CTEs of an
    incremental int_profile_facts run that find every person it must rewrite, from what changed
    since its last run (the bounds come from profile_refresh_since; index is
    ref('int_record_identifiers')). Expects the model's CTE graph (identity_graph).

        index_changes         index records indexed after indexed_since, and the orders with a
                              return recorded since since['returns_returned']
                              (has_recent_return)
        record_changes        those records with their person (resolve_person) and is_new: first
                              indexed after indexed_since and no recent return
        identity_candidates   persons identity (re)assigned an identifier to, or took one from,
                              since resolved_since (identity_graph.resolved_at,
                              previous_person_id)
        candidate_fingerprints, changed_identities
                              those of them whose identity fingerprint differs from their stored
                              one, or who have no row yet
        merged_persons        persons that absorbed a merge (identity.person_merges) whose
                              merged-away id still has a row
        touched_persons       the union: every person the run rewrites (profile_rewrite_scope
                              says how)
-#}
{%- macro profile_touched_persons(index, since, indexed_since, resolved_since) -%}
index_changes as {{ materialized_cte() }} (

    select *, false as has_recent_return from {{ index }}
    where indexed_at > {{ indexed_since }}
    union all
    -- orders with a return recorded within the lookback: their person is recomputed in full
    select *, true from {{ index }}
    where source = 'stg_shop__orders'
        and source_record_id in (
            select order_id from {{ ref('stg_shop__returns') }}
            where returned_at >= {{ since['returns_returned'] }}
        )

),

record_changes as {{ materialized_cte() }} (

    select
        person_id,
        source,
        source_record_id,
        email,
        seen_at,
        first_indexed_at > {{ indexed_since }} and not has_recent_return as is_new
    from ({{ resolve_person('index_changes', person_id_priority()) }}) as resolved
    where person_id is not null

),

identity_candidates as {{ materialized_cte() }} (

    -- persons identity (re)assigned an identifier to, or took one from, since the last run
    -- (identity_graph.resolved_at, previous_person_id): only theirs can have changed
    select person_id from {{ ref('identity_graph') }}
    where resolved_at > {{ resolved_since }}
    union
    select previous_person_id from {{ ref('identity_graph') }}
    where resolved_at > {{ resolved_since }} and previous_person_id is not null

),

candidate_fingerprints as (

    select
        person_id,
        {{ set_fingerprint("id_type || ':' || id_value") }} as identity_fingerprint
    from graph
    where person_id in (select person_id from identity_candidates)
    group by person_id

),

changed_identities as (

    select current_ids.person_id
    from candidate_fingerprints as current_ids
    left join {{ this }} as previous
        on previous.person_id = current_ids.person_id
    where previous.person_id is null
        or previous.identity_fingerprint <> current_ids.identity_fingerprint

),

merged_persons as (

    -- merged since the last run: the merged-away id still has a row here
    select person_id from {{ ref('person_merges') }}
    where old_person_id in (select person_id from {{ this }})

),

touched_persons as (

    select person_id from record_changes
    union
    select person_id from changed_identities
    union
    select person_id from merged_persons

)
{%- endmacro -%}
