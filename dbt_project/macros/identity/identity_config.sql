{#-
    identity_config(): every identity-resolution setting, with its default, in one place.

    Each key can be overridden by a dbt var named identity_<key> (in dbt_project.yml or with
    --vars). Models and macros read settings only through this macro, so a default lives here
    and nowhere else. Values are checked, and a bad value fails compilation naming the var.

    The guards, in the order they act (README "Identity resolution" says why each exists):
      placeholder_values, placeholder_patterns, blocked_values, junk_email_local_parts,
      email_min_local_length, fictional_phone_patterns, valid_patterns   a first filter on
                       what a value looks like (fictional_phone_patterns: the ranges numbering
                       plans reserve for films and books, which no subscriber ever holds:
                       NANP's 555-0100..0199 in every area code and its
                       directory assistance 555-1212, Ofcom's drama numbers)
                       (typed_placeholder_patterns and one character repeated apply to every
                       type but account_id_types: a company's own customer 1111 or 100000
                       is a key its database issued, a device 00:00:.. or phone 1111 is not)
                       (a gmail address needs 6 characters before the @: 'na@gmail.com' is
                       typed to get past a field, never a mailbox)
      hub_max_links    an identifier seen with more distinct values of a type than one person
                       plausibly has is a hub: a node, never a bridge ({id_type: {linked_type:
                       max}}; the 'default' entry applies to every id_type, null = no cap)
      hub_max_strong_groups  a device or anonymous id whose records reach more strong groups
                       (persons by their strong identifiers), directly or through the other
                       weak identifiers they share records with, is a hub too, and so is a
                       phone (kept out of the strong groups: it can pass on) reaching more of
                       them, whatever their types (a switchboard typed for customers with
                       emails, cards and accounts, no type over its own link cap); so is a
                       strong identifier whose devices and cookies reach more strong groups
                       than its own ('not_logged_in' as the user id of every visitor)
      recyclable_id_types, recycle_gap_days  a phone or device seen with one person's strong
                       identifiers and, more than recycle_gap_days after their last sighting,
                       with another's, has passed on: its edges to the earlier owner are cut
      person_limits    a person holds at most this many identifiers of each type; when an
                       edge would break a limit, it is cut (the stronger edges join first:
                       edge classes, then evidence); null = no limit
      weak_ids_join_persons  false: a device or anonymous id attaches to one person and never
                       joins two persons that their strong identifiers keep apart
      typos_join, email_typo_min_length  ... unless the two persons hold one number under
                       two country codes (a national number read in the shipping country
                       and, elsewhere, as its own: the same last 10 digits), or addresses a
                       typo apart: the same mailbox name at a mistyped domain
                       (yahoo.con), or one or two letters dropped or added in the name at
                       the same domain, its digits unchanged (millr.chris62@ /
                       miller.chris62@); addresses of at least email_typo_min_length
                       characters. A letter swapped for another is not a typo here:
                       jsmith@ and ksmith@ on one family tablet are two people, and so are
                       msmith@ and msmith1@
      corroborate_joins  true: two persons that each already hold two or more strong
                       identifiers are joined only on corroborated evidence, two records or
                       two sources; one gift order, one partner's card at the till, one
                       cashier's slip does not merge two customers with their own histories;
                       an edge to an account_id_types identifier (an account or CRM record
                       asserting an email or phone) is evidence enough on its own, but for
                       a phone seen with it only in order_sources. Nor
                       does one record give an established person (two or more strong
                       identifiers) a second email, phone or card while the one it already
                       has is in use (the two are seen over overlapping times): the
                       recipient's phone on one gift order, the partner's card scanned once,
                       a colleague's address typed once, a second shopper's address on one
                       order stay apart; a new number after the old one's last use, or a typo
                       of one's own (two edits), still joins
      contested_min_persons  a strong identifier with no corroborated link of its own, seen
                       once each with the strong identifiers of this many persons or more
                       and never twice with any, is attached to none of them (a store's
                       house card, a card passed around a family); its links are cut and
                       audited (contested); null = off
      order_sources    sources (identity_sources() names) whose records are orders: the
                       account id on one is the buyer's and so is its email (the receipt
                       address), but its phone may be a gift recipient's shipping number, so
                       an account id's edge to a phone seen only there is one record like any
                       other (corroborate_joins), not the account vouching for it
      mailbox_rules    addresses of one mailbox ('john.smith+x@gmail.com', 'johnsmith@
                       googlemail.com') are linked, not rewritten; enabled: false turns it off
      lookback_days    incremental runs re-read every source this many days before its
                       watermark, so late-arriving rows (a store's offline POS upload) are folded in
      full_reread_sources  sources (identity_sources() names) read in full by every incremental
                       run instead, skipping the records already counted: a late row however
                       old is folded in as a full build would. For sources without a load time
                       that are small (a consent log); each run costs a scan of all their
                       records and keeps one key per record (identity_sources() says more)
-#}
{%- macro identity_config() -%}
    {%- set defaults = {
        'id_priority': ['user_id', 'crm_id', 'email', 'phone', 'loyalty_id', 'device_id',
                        'anonymous_id'],
        'placeholder_values': ['', 'unknown', 'null', '(null)', '<null>', 'none', 'nil', 'nan',
                               'undefined', '[object object]', '0', '-1', 'anonymous', 'anon',
                               'guest', 'n/a', 'na', 'test', 'default', 'not set',
                               'not available', 'not_available', 'unavailable', 'idfa',
                               'gaid', 'aaid', 'adid', 'limit_ad_tracking', 'lat', 'opt-out',
                               'optout', 'dnt', 'declined', 'refused',
                               '00000000-0000-0000-0000-000000000000',
                               '9774d56d682e549c'],
        'placeholder_patterns': [
            '[_{[%$#<@(]+[a-z_. ]*[a-z][a-z_. ]*[]_}%#>@)]+',
        ],
        'typed_placeholder_patterns': [
            '[0:.-]{5,}[1-9a-f]?[0:.-]*|[0:.-]*[1-9a-f]?[0:.-]{5,}',
            '[f:-]{12,}',
        ],
        'blocked_values': {
            'email': ['test@test.com', 'test@example.com', 'email@example.com',
                      'noemail@noemail.com', 'none@none.com', 'no@email.com', 'a@a.com',
                      'noreply@noreply.com', 'null@null.com', 'unknown@unknown.com'],
            'phone': ['+11234567890', '+10123456789', '+19876543210'],
        },
        'junk_email_local_parts': ['noemail', 'nomail', 'no-email', 'no.email', 'no_email',
                                   'none', 'noreply', 'no-reply', 'donotreply',
                                   'do-not-reply', 'donotemail', 'declined', 'refused',
                                   'unknown', 'null', 'test', 'asdf', 'asdfasdf', 'qwerty',
                                   'xxx', 'xx', 'x', 'fake', 'na', 'n/a', 'nobody', 'noone',
                                   'no', 'nope', 'nothing', 'blank', 'dontwant', 'donthave',
                                   'noname', 'customer', 'abc', 'abcd', 'sdfsdf', 'asd'],
        'email_min_local_length': {'gmail.com': 6, 'googlemail.com': 6, 'yahoo.com': 4},
        'fictional_phone_patterns': [
            '[+]1[2-9][0-9]{2}555(01[0-9]{2}|1212)',
            '[+]44(2079460|1632960|7700900)[0-9]{3}',
            '[+]44(113|114|115|116|117|118|121|131|141|151|161)4960[0-9]{3}',
        ],
        'valid_patterns': {
            'email': '[^@[:space:]]+@[^@[:space:]]+[.][a-z]{2,}',
            'phone': '[+][1-9][0-9]{6,14}',
            'user_id': '[^[:space:]]{1,128}',
            'crm_id': '[^[:space:]]{1,128}',
            'loyalty_id': '[^[:space:]]{1,128}',
            'device_id': '[^[:space:]]{1,128}',
            'anonymous_id': '[^[:space:]]{1,128}',
        },
        'strong_id_types': ['user_id', 'crm_id', 'email', 'phone', 'loyalty_id'],
        'hub_max_links': {
            'default': {'user_id': 3, 'crm_id': 4, 'email': 4, 'phone': 4, 'loyalty_id': 4,
                        'device_id': 10, 'anonymous_id': 50},
            'user_id': {'device_id': 20, 'anonymous_id': none},
            'crm_id': {'anonymous_id': none},
            'email': {'anonymous_id': none},
            'phone': {'anonymous_id': none},
            'loyalty_id': {'anonymous_id': none},
            'anonymous_id': {'device_id': 3},
        },
        'hub_max_strong_groups': {'device_id': 3, 'anonymous_id': 3, 'phone': 4, 'user_id': 8,
                                  'crm_id': 8, 'email': 8, 'loyalty_id': 8},
        'recyclable_id_types': ['phone', 'device_id'],
        'recycle_gap_days': 30,
        'person_limits': {'user_id': 1, 'crm_id': 2, 'email': 3, 'phone': 2, 'loyalty_id': 2,
                          'device_id': 10, 'anonymous_id': none},
        'weak_ids_join_persons': false,
        'typos_join': true,
        'email_typo_min_length': 10,
        'corroborate_joins': true,
        'contested_min_persons': 3,
        'account_id_types': ['user_id', 'crm_id'],
        'order_sources': ['shop'],
        'mailbox_rules': {
            'enabled': true,
            'ignore_dots': ['gmail.com', 'googlemail.com'],
            'plus_tags': ['gmail.com', 'googlemail.com', 'outlook.com', 'hotmail.com',
                          'live.com', 'msn.com', 'icloud.com', 'me.com', 'mac.com',
                          'protonmail.com', 'proton.me', 'fastmail.com'],
            'domain_aliases': {'googlemail.com': 'gmail.com'},
            'max_variants': 5,
        },
        'lookback_days': 30,
        'full_reread_sources': ['cmp'],
        'max_iterations': 30,
        'max_agglomeration_rounds': 40,
        'max_cluster_size': 1000,
    } -%}
    {%- set config = {} -%}
    {%- for key, default in defaults.items() -%}
        {%- do config.update({key: var('identity_' ~ key, default)}) -%}
    {%- endfor -%}
    {%- do _identity_check_config(config) -%}
    {{ return(config) }}
{%- endmacro -%}

{%- macro identity_known_types() -%}
    {{ return(['user_id', 'crm_id', 'email', 'phone', 'loyalty_id', 'device_id',
               'anonymous_id']) }}
{%- endmacro -%}

{%- macro identity_hub_max(config, id_type, linked_type) -%}
    {#- the hub threshold for id_type -> linked_type, or none for no cap -#}
    {%- set own = config.hub_max_links.get(id_type, {}) -%}
    {%- if linked_type in own -%}
        {{ return(own[linked_type]) }}
    {%- endif -%}
    {{ return(config.hub_max_links.get('default', {}).get(linked_type)) }}
{%- endmacro -%}

{%- macro identity_weak_types(config) -%}
    {%- set weak = [] -%}
    {%- for id_type in config.id_priority if id_type not in config.strong_id_types -%}
        {%- do weak.append(id_type) -%}
    {%- endfor -%}
    {{ return(weak) }}
{%- endmacro -%}

{%- macro _identity_check_config(config) -%}
    {%- set known = identity_known_types() -%}
    {%- if config.id_priority | sort != known | sort -%}
        {{ exceptions.raise_compiler_error(
            "var identity_id_priority must list each identifier type exactly once: "
            ~ known | join(', ') ~ "; got " ~ config.id_priority | join(', ')) }}
    {%- endif -%}
    {%- for id_type in config.strong_id_types -%}
        {%- if id_type not in known -%}
            {{ exceptions.raise_compiler_error(
                "var identity_strong_id_types: unknown identifier type '" ~ id_type
                ~ "'; choose among " ~ known | join(', ')) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if config.hub_max_links is not mapping -%}
        {{ exceptions.raise_compiler_error(
            "var identity_hub_max_links must be a mapping {id_type or 'default': "
            ~ "{linked_type: max}}") }}
    {%- endif -%}
    {%- for id_type, caps in config.hub_max_links.items() -%}
        {%- if id_type != 'default' and id_type not in known or caps is not mapping -%}
            {{ exceptions.raise_compiler_error(
                "var identity_hub_max_links: '" ~ id_type ~ "' needs to be an identifier type "
                ~ "(" ~ known | join(', ') ~ ") or 'default', mapped to {linked_type: max}") }}
        {%- endif -%}
        {%- for linked_type, max in caps.items() -%}
            {%- if linked_type not in known or (max is not none
                   and (max is not number or max < 1)) -%}
                {{ exceptions.raise_compiler_error(
                    "var identity_hub_max_links: " ~ id_type ~ " -> " ~ linked_type ~ ": "
                    ~ max ~ " needs a linked type among " ~ known | join(', ')
                    ~ " and an integer >= 1 (or null for no cap)") }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if config.contested_min_persons is not none and (config.contested_min_persons
           is not number or config.contested_min_persons < 2) -%}
        {{ exceptions.raise_compiler_error(
            "var identity_contested_min_persons must be an integer >= 2 (or null for off), got "
            ~ config.contested_min_persons) }}
    {%- endif -%}
    {%- for name in ['hub_max_strong_groups', 'person_limits'] -%}
        {%- for id_type, max in config[name].items() -%}
            {%- if id_type not in known or (max is not none
                   and (max is not number or max < 1)) -%}
                {{ exceptions.raise_compiler_error(
                    "var identity_" ~ name ~ ": '" ~ id_type ~ ": " ~ max ~ "' needs an "
                    ~ "identifier type among " ~ known | join(', ')
                    ~ " and an integer >= 1 (or null for no limit)") }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for id_type in config.recyclable_id_types -%}
        {%- if id_type not in known -%}
            {{ exceptions.raise_compiler_error(
                "var identity_recyclable_id_types: unknown identifier type '" ~ id_type ~ "'") }}
        {%- endif -%}
    {%- endfor -%}
    {%- for id_type in known -%}
        {%- if id_type not in config.valid_patterns -%}
            {{ exceptions.raise_compiler_error(
                "var identity_valid_patterns has no pattern for " ~ id_type) }}
        {%- endif -%}
    {%- endfor -%}
    {%- for name in ['max_iterations', 'max_agglomeration_rounds', 'max_cluster_size',
                     'email_typo_min_length'] -%}
        {%- if config[name] is not number or config[name] < 1 -%}
            {{ exceptions.raise_compiler_error(
                "var identity_" ~ name ~ " must be an integer >= 1, got " ~ config[name]) }}
        {%- endif -%}
    {%- endfor -%}
    {%- for name in ['recycle_gap_days', 'lookback_days'] -%}
        {%- if config[name] is not number or config[name] < 0 -%}
            {{ exceptions.raise_compiler_error(
                "var identity_" ~ name ~ " must be an integer >= 0 (days), got "
                ~ config[name]) }}
        {%- endif -%}
    {%- endfor -%}
    {%- set source_names = identity_sources() | map(attribute='source') | list -%}
    {%- for key in ['full_reread_sources', 'order_sources'] -%}
        {%- if config[key] is string or config[key] is mapping or config[key] is not iterable -%}
            {{ exceptions.raise_compiler_error(
                "var identity_" ~ key ~ " must be a list of sources among "
                ~ source_names | join(', ') ~ ", got " ~ config[key]) }}
        {%- endif -%}
        {%- for name in config[key] -%}
            {%- if name not in source_names -%}
                {{ exceptions.raise_compiler_error(
                    "var identity_" ~ key ~ ": unknown source '" ~ name
                    ~ "'; choose among " ~ source_names | join(', ')) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for name in ['weak_ids_join_persons', 'corroborate_joins', 'typos_join'] -%}
        {%- if config[name] not in [true, false] -%}
            {{ exceptions.raise_compiler_error(
                "var identity_" ~ name ~ " must be true or false, got " ~ config[name]) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if config.mailbox_rules is not mapping
           or config.mailbox_rules.get('enabled') not in [true, false] -%}
        {{ exceptions.raise_compiler_error(
            "var identity_mailbox_rules must be a mapping with enabled: true or false "
            ~ "(and ignore_dots, plus_tags, domain_aliases, max_variants)") }}
    {%- endif -%}
{%- endmacro -%}
