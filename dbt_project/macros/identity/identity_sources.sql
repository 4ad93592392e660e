{#-
    identity_sources(): which staging models carry identifiers, and where.

    One dict per staging model:
      model      the staging model (ref name)
      source     short source name written to identity tables (a node's `sources`)
      seen_at    expression for when the record happened (first_seen_at / last_seen_at)
      loaded_at  expression for when the record reached the warehouse; incremental runs
                 pick up records loaded after the last run's watermark for that source
      ids        {id_type: expression} for every identifier type the model exposes
    Identifier columns are already normalised by staging (email lower-cased, phone E.164).
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
