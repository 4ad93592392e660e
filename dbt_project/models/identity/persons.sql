{#- One row per resolved person, with identifier counts per type (email_count counts
    addresses, mailbox_count the mailboxes they deliver to, var identity_mailbox_rules). -#}
{{ config(materialized='table') }}

{%- set config = identity_config() -%}
{%- set id_types = config.id_priority -%}

with

graph as (

    select * from {{ ref('identity_graph') }}

),

final as (

    select
        person_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        count(*) as identifier_count,
        {%- for id_type in id_types %}
        sum(case when id_type = '{{ id_type }}' then 1 else 0 end) as {{ id_type }}_count,
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

    from graph
    group by person_id

)

select * from final
