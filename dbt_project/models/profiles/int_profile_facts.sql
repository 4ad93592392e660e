{#-
    Per-person facts that depend only on the person's own records (counts, sums, first/last
    timestamps, survivorship winners, latest consent): nothing relative to as_of and nothing
    ranked across persons, so a person's row changes only when their records or identifiers do.
    customer_profiles adds the relative and ranked traits on top.

    Incremental (delete+insert on person_id). What changed since the last run comes from the
    index int_record_identifiers: records whose indexed_at is after this table's
    watermark_indexed (the index's latest indexed_at when this table was last built) are new
    (first_indexed_at after it) or changed. A run rewrites the rows of the persons they touch,
    in one of two ways:
      - delta: the person's stored row combined with the facts of its new records only (counts
        and sums add, first/last timestamps take the min/max, survivorship winners: the stored
        winner competes with the new candidates; see profile_combine). Used when that is exact:
        the person's identifiers are unchanged and nothing but new records arrived.
      - full: the person's whole history, found through their identifiers and read from
        staging by source_record_id. Used for persons whose identifier set changed, that
        absorbed a merge, with a changed (not new) record or a return recorded within var
        profile_lookback_days of the latest processed one, and for persons whose new records a
        delta cannot combine exactly (profile_rewrite_scope lists which).
    The rows of persons that no longer exist in identity.persons (merged away) are deleted by
    the post-hook. If the index was rebuilt after this table (its oldest first_indexed_at is
    after watermark_indexed), every record looks new: every person is then recomputed in full.
    The index must be current when this table is built (dbt runs it first when both are
    selected): a record a full build read from staging but the index had not yet seen would
    later look new and be counted twice by a delta.

    The model is a spine; each job is a macro in macros/profiles, called in this order:
    profile_refresh_since (the stored watermarks a run starts from), profile_touched_persons
    (which persons a run rewrites), profile_rewrite_scope (delta or full, and the records read
    for them), profile_read_records (those records, per source), then the facts:
    profile_identifier_facts, profile_survivorship, profile_web_facts, profile_commerce_facts,
    profile_engagement_facts, profile_consent_facts, profile_activity_facts,
    profile_record_watermarks, and profile_computed and profile_final (the row written).
-#}
{{ config(
    materialized='incremental',
    unique_key='person_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook="delete from {{ this }} where person_id not in (select person_id from "
        ~ "{{ ref('persons') }})"
) }}

{%- set sources = profile_sources() -%}
{%- set incremental = is_incremental() -%}
{%- set index = ref('int_record_identifiers') -%}
{%- set watermark_names = [] -%}
{%- for spec in sources.values() -%}
    {%- for name in spec.watermarks -%}{%- do watermark_names.append(name) -%}{%- endfor -%}
{%- endfor -%}
{%- do watermark_names.extend(['consents_recorded', 'returns_returned']) -%}
{%- set refresh = profile_refresh_since(watermark_names, index, incremental) -%}
with

-- depends_on: {{ ref('person_merges') }}
-- depends_on: {{ index }}
-- depends_on: {{ ref('int_identifier_records') }}

persons as (

    select person_id, is_known from {{ ref('persons') }}

),

graph as (

    select id_type, id_value, person_id from {{ ref('identity_graph') }}

),

identity_now as (

    select max(resolved_at) as resolved_at from {{ ref('identity_graph') }}

),

index_now as (

    select max(indexed_at) as indexed_at from {{ index }}

),

{%- if incremental %}

-- what changed since the last run

{{ profile_touched_persons(index, refresh.since, refresh.indexed_since,
                           refresh.resolved_since) }},

{{ profile_rewrite_scope(index, refresh.index_rebuilt) }},

{%- else %}

scope as {{ materialized_cte() }} (

    select *, false as is_delta from persons

),

{%- endif %}

-- resolved records of the persons in scope

events as {{ materialized_cte() }} (

    {{ profile_read_records('stg_segment__events', incremental) }}

),

orders as {{ materialized_cte() }} (

    {{ profile_read_records('stg_shop__orders', incremental) }}

),

crm_contacts as {{ materialized_cte() }} (

    {{ profile_read_records('stg_crm__contacts', incremental) }}

),

email_events as {{ materialized_cte() }} (

    {{ profile_read_records('stg_esp__email_events', incremental) }}

),

tickets as {{ materialized_cte() }} (

    {{ profile_read_records('stg_helpdesk__tickets', incremental) }}

),

pos_purchases as {{ materialized_cte() }} (

    {{ profile_read_records('stg_pos__purchases', incremental) }}

),

ad_clicks as {{ materialized_cte() }} (

    {{ profile_read_records('stg_ads__ad_clicks', incremental) }}

),

consents as {{ materialized_cte() }} (

    {{ profile_read_records('stg_cmp__consents', incremental) }}

),

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

order_returns as (

    select * from {{ ref('stg_shop__returns') }}

),

scope_graph as {{ materialized_cte() }} (

    select * from graph
    where person_id in (select person_id from scope)

),

-- identifiers

{{ profile_identifier_facts() }},

-- survivorship: contact fields

{{ profile_survivorship(incremental) }},

-- web behaviour

{{ profile_web_facts() }},

-- commerce

{{ profile_commerce_facts(incremental) }},

-- email engagement, support, ads

{{ profile_engagement_facts(incremental) }},

-- consent: the latest record per purpose for any of the person's identifiers wins; a
-- revocation beats a grant recorded at the same instant

{{ profile_consent_facts() }},

-- channels and activity span

{{ profile_activity_facts(incremental) }},

{{ profile_record_watermarks(sources, watermark_names) }},

{{ profile_computed(watermark_names) }},

{{ profile_final(watermark_names, incremental) }}

select * from final
