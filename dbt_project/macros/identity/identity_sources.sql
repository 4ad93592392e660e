{#-
    identity_sources(): which staging models carry identifiers, and where.

    One dict per staging model:
      model      the staging model (ref name)
      source     short source name written to identity tables (a node's `sources`)
      seen_at    expression for when the record happened (first_seen_at / last_seen_at)
      loaded_at  expression for when the record reached the warehouse (the event time where
                 the source has no load time); incremental runs re-read records loaded after
                 the source's watermark minus var identity_lookback_days, except for the
                 sources in var identity_full_reread_sources (below)
      key        optional: the record's unique column (default source_record_id), which the
                 lookback uses to skip records it has already counted
      ids        {id_type: expression} for every identifier type the model exposes
    Identifier columns are already normalised by staging (email lower-cased, phone E.164).

    A source without a load time (loaded_at is its event time: esp, ads, pos, cmp) can deliver
    a row late whose event time is older than the lookback; the lookback never reads it, so
    only --full-refresh would fold it in. The sources listed in var
    identity_full_reread_sources (default [cmp]) are read in full instead: every incremental
    run reads all their records and skips those already counted, whose keys (source,
    source_record_id, loaded time) identity.identity_records_seen keeps for every record of
    the source, not only the window. Incremental then equals a full build for them whatever
    the lateness. The cost grows with the source, not with what is new: each run scans all
    its records, anti-joins them on their keys, and rewrites their keys into
    identity_records_seen (one small row per record). Right for a consent log (one row per
    choice); a large event source (esp opens, ads clicks) keeps the lookback. A source newly
    listed is read in full from the run after the one that first keeps all its keys; rows
    that arrived too late before that need one --full-refresh.
-#}
{%- macro identity_sources() -%}
    {{ return([
        {'model': 'stg_segment__events', 'source': 'segment',
         'seen_at': 'occurred_at', 'loaded_at': 'received_at',
         'ids': {'user_id': 'user_id', 'anonymous_id': 'anonymous_id',
                 'device_id': 'device_id', 'email': 'email', 'phone': 'phone'}},
        {'model': 'stg_shop__orders', 'source': 'shop',
         'seen_at': 'ordered_at', 'loaded_at': 'updated_at',
         'ids': {'user_id': 'user_id', 'anonymous_id': 'anonymous_id', 'email': 'email',
                 'phone': 'phone'}},
        {'model': 'stg_shop__customers', 'source': 'shop_customers',
         'seen_at': 'created_at', 'loaded_at': 'updated_at',
         'ids': {'user_id': 'user_id', 'email': 'email', 'phone': 'phone'}},
        {'model': 'stg_crm__contacts', 'source': 'crm',
         'seen_at': 'created_at', 'loaded_at': 'updated_at',
         'ids': {'crm_id': 'crm_id', 'user_id': 'user_id', 'email': 'email',
                 'phone': 'phone'}},
        {'model': 'stg_esp__email_events', 'source': 'esp',
         'seen_at': 'occurred_at', 'loaded_at': 'occurred_at',
         'ids': {'email': 'email'}},
        {'model': 'stg_ads__ad_clicks', 'source': 'ads',
         'seen_at': 'clicked_at', 'loaded_at': 'clicked_at',
         'ids': {'anonymous_id': 'anonymous_id', 'device_id': 'device_id'}},
        {'model': 'stg_helpdesk__tickets', 'source': 'helpdesk',
         'seen_at': 'created_at', 'loaded_at': 'updated_at',
         'ids': {'email': 'email', 'phone': 'phone'}},
        {'model': 'stg_pos__purchases', 'source': 'pos',
         'seen_at': 'purchased_at', 'loaded_at': 'purchased_at',
         'ids': {'loyalty_id': 'loyalty_id', 'phone': 'phone', 'email': 'email'}},
        {'model': 'stg_cmp__consents', 'source': 'cmp',
         'seen_at': 'recorded_at', 'loaded_at': 'recorded_at',
         'ids': {'email': "case when subject_type = 'email' then subject_id end",
                 'phone': "case when subject_type = 'phone' then subject_id end",
                 'user_id': "case when subject_type = 'user_id' then subject_id end"}},
    ]) }}
{%- endmacro -%}


{#- ---- incremental lookback of identity_records ----------------------------------------- -#}

{%- macro identity_records_seen_relation() -%}
    {#- identity.identity_records_seen if a previous run wrote it, else none -#}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(database=this.database, schema=this.schema,
                                   identifier='identity_records_seen')) }}
{%- endmacro -%}

{%- macro _identity_record_loaded(src) -%}
    cast(coalesce({{ src.loaded_at }}, {{ src.seen_at }}) as timestamp)
{%- endmacro -%}

{%- macro identity_lookback_start(source_name) -%}
    {#- the source's watermark in identity_records minus var identity_lookback_days -#}
    (
        select {{ dbt.dateadd('day', -1 * identity_config().lookback_days,
                              "coalesce(max(source_loaded_at), cast('1900-01-02' as timestamp))") }}
        from {{ this }}
        where source = '{{ source_name }}'
    )
{%- endmacro -%}

{%- macro identity_records_seen_all_keys(seen) -%}
    {#- the sources whose every counted key the previous run kept in identity_records_seen
        (kept = 'all'): an incremental run can read them in full. Empty when there is no
        table, or it predates the kept column (it then holds only each source's window). -#}
    {%- if seen is none or not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(seen) | map(attribute='name')
                      | map('lower') | list -%}
    {%- if 'kept' not in columns -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set sources = run_query("select distinct source from " ~ seen ~ " where kept = 'all'") -%}
    {{ return(sources.columns[0].values() | list) }}
{%- endmacro -%}

{%- macro identity_records_remember_window() -%}
    {#- post-hook of identity_records: the keys of the records this run and earlier ones have
        counted, so the next run skips them. For a source in var identity_full_reread_sources,
        every record's key (kept = 'all', the next run reads the source in full); for the
        others, those inside the new lookback window (kept = 'window'). Records without an
        identifier are kept too: the next run skips them anyway, and testing for identifiers
        would normalise every identifier of the window again. -#}
    {%- set full_reread = identity_config().full_reread_sources -%}
    {%- set relation = api.Relation.create(database=this.database, schema=this.schema,
                                           identifier='identity_records_seen') -%}
    create or replace table {{ relation }} as
    {%- for src in identity_sources() %}
    select
        '{{ src.source }}' as source,
        cast({{ src.get('key', 'source_record_id') }} as varchar) as source_record_id,
        {{ _identity_record_loaded(src) }} as loaded_at,
        '{{ 'all' if src.source in full_reread else 'window' }}' as kept
    from {{ ref(src.model) }}
    {%- if src.source not in full_reread %}
    where {{ _identity_record_loaded(src) }} > {{ identity_lookback_start(src.source) }}
    {%- endif %}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
{%- endmacro -%}
