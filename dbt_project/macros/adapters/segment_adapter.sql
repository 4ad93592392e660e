{#-
    segment_adapter_call(relation, call_type, columns): one Segment / RudderStack call table
    (tracks, pages, screens or identifies) as rows of the contract's segment.events, plus
    _sort_received_at for deduplication. Used by models/adapters/segment/adapter_segment__events.
-#}
{%- macro segment_adapter_call(relation, call_type, columns) -%}
    {%- set c = columns -%}
    select
        {{ tessera_pick(c, 'id', 'varchar') }} as message_id,
        '{{ call_type }}' as type,
        {{ tessera_pick(c, ['event_text', 'event'], 'varchar') if call_type == 'track'
           else 'cast(null as varchar)' }} as event,
        {{ tessera_pick(c, 'anonymous_id', 'varchar') }} as anonymous_id,
        {{ tessera_pick(c, 'user_id', 'varchar') }} as user_id,
        {{ tessera_pick(c, 'context_device_id', 'varchar') }} as device_id,
        {{ tessera_pick(c, ['timestamp', 'original_timestamp', 'sent_at', 'received_at'],
                        'timestamp') }} as timestamp,
        {{ tessera_pick(c, ['received_at', 'uuid_ts', 'loaded_at'], 'timestamp') }}
            as received_at,
        case
            when lower({{ tessera_pick(c, 'context_os_name', 'varchar') }}) in ('ios', 'ipados')
                then 'ios'
            when lower({{ tessera_pick(c, 'context_os_name', 'varchar') }}) = 'android'
                then 'android'
            when lower({{ tessera_pick(c, 'context_library_name', 'varchar') }}) like '%ios%'
                then 'ios'
            when lower({{ tessera_pick(c, 'context_library_name', 'varchar') }}) like '%android%'
                then 'android'
            else 'web'
        end as context_channel,
        {{ tessera_pick(c, ['url', 'context_page_url'] if call_type == 'page'
                        else 'context_page_url', 'varchar') }} as context_page_url,
        {{ tessera_pick(c, ['path', 'context_page_path'] if call_type == 'page'
                        else 'context_page_path', 'varchar') }} as context_page_path,
        {{ tessera_pick(c, ['referrer', 'context_page_referrer'] if call_type == 'page'
                        else 'context_page_referrer', 'varchar') }} as context_page_referrer,
        {{ tessera_pick(c, 'context_campaign_source', 'varchar') }} as context_campaign_source,
        {{ tessera_pick(c, 'context_campaign_medium', 'varchar') }} as context_campaign_medium,
        {{ tessera_pick(c, 'context_campaign_name', 'varchar') }} as context_campaign_name,
        {{ tessera_pick(c, 'context_user_agent', 'varchar') }} as context_user_agent,
        {{ tessera_pick(c, ['context_ip', 'context_request_ip'], 'varchar') }} as context_ip,
        {%- for trait in ['email', 'phone', 'first_name', 'last_name'] %}
        {{ tessera_pick(c, [trait, 'context_traits_' ~ trait] if call_type == 'identify'
                        else ['context_traits_' ~ trait], 'varchar') }} as traits_{{ trait }},
        {%- endfor %}
        {{ tessera_pick(c, 'received_at', 'timestamp') }} as _sort_received_at
    from {{ relation }}
{%- endmacro -%}
