{#- One row per resolved person, with identifier counts per type (email_count counts
    addresses, mailbox_count the mailboxes they deliver to, var identity_mailbox_rules;
    user_id_count leaves out a user id that is an address seen as an email: identity_edges
    links it to that email as its alias, which the person limits do not count either). -#}
{{ config(materialized='table') }}

{%- set config = identity_config() -%}
{%- set id_types = config.id_priority -%}

with

graph as (

    select * from {{ ref('identity_graph') }}

),

edges as (

    select * from {{ ref('identity_edges') }}

),

user_id_aliases as (

    select distinct dst_key as node_key
    from edges
    where edge_class = 0
        and not is_dropped
        and dst_key like 'user_id:%'

),

final as (

    select
        person_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        count(*) as identifier_count,
        {%- for id_type in id_types %}
        sum(case when id_type = '{{ id_type }}'
            {%- if id_type == 'user_id' %} and a.node_key is null{% endif %}
            then 1 else 0 end) as {{ id_type }}_count,
        {%- endfor %}
        count(distinct case when id_type = 'email' then
            {%- if config.mailbox_rules.enabled %}
            {{ identity_mailbox_key('id_value', config.mailbox_rules) }}
            {%- else %}
            id_value
            {%- endif %}
        end) as mailbox_count,
        max(case when id_type in ('email', 'user_id', 'crm_id') then 1 else 0 end) = 1
            as is_known,
        max(person_changed_at) as person_changed_at,
        max(resolved_at) as resolved_at

    from graph g
    left join user_id_aliases a on a.node_key = g.node_key
    group by person_id

)

select * from final
