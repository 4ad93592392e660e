{#-
    profile_identifier_facts(): the int_profile_facts CTE identifier_counts, per person in scope
    from the model's CTE scope_graph: how many emails, phones, devices and anonymous ids the
    person has, their user_id, crm_id and loyalty_id (smallest if several; a user id that is
    an email address, an older app's alias of the account, only if there is no other) and
    their identity fingerprint (the set of their identifiers, which tells a run whether it
    changed).
-#}
{%- macro profile_identifier_facts() -%}
identifier_counts as (

    select
        person_id,
        count(case when id_type = 'email' then 1 end) as emails_count,
        count(case when id_type = 'phone' then 1 end) as phones_count,
        count(case when id_type = 'device_id' then 1 end) as devices_count,
        count(case when id_type = 'anonymous_id' then 1 end) as anonymous_ids_count,
        coalesce(
            min(case when id_type = 'user_id' and id_value not like '%@%' then id_value end),
            min(case when id_type = 'user_id' then id_value end)
        ) as user_id,
        min(case when id_type = 'crm_id' then id_value end) as crm_id,
        min(case when id_type = 'loyalty_id' then id_value end) as loyalty_id,
        {{ set_fingerprint("id_type || ':' || id_value") }} as identity_fingerprint
    from scope_graph
    group by person_id

)
{%- endmacro -%}
