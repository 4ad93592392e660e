"""Hostile segments, written for this project from the classes in issue 16, and valid tricky ones.

Each hostile case is the files a segment author could put in models/segments. `▸` marks
where the refusal must point (it is removed before the files are written). `dbt` says where
a plain `dbt build` stops the case without the checker: "parse" (the parse fails, by the
project's guard unless `dbt_says` names dbt's own error, so nothing runs), "run" (the
segment's node fails or builds only its own table), or "hang" (dbt's own Jinja renderer does
not finish parsing it; nothing runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tessera.segments.issues import line_col

MARK = "▸"
P = "{{ ref('customer_profiles') }}"
S = "{{ source('ml', 'person_scores') }}"
# Planted in raw.crm_contacts.company, a column no readable relation carries.
CANARY_PII = "canary-company-7b2e"
CANARY_FILE_TEXT = "canary-file-5f1c"
CANARY_ENV = "canary-env-93ad"


def default_yml(name: str) -> str:
    return (
        "version: 2\nmodels:\n"
        f"  - name: {name}\n"
        "    description: a segment\n"
        "    config:\n"
        "      tags: [segment]\n"
        "      meta: {owner: red-team, refresh: daily}\n"
    )


@dataclass(frozen=True)
class Case:
    id: str
    klass: str
    sql: str
    code: str = ""  # issue code the checker must report (hostile cases)
    yml: str | None = None  # None: a plain valid YAML; "__NAME__" is the segment name
    files: Mapping[str, str] = field(default_factory=dict)
    dbt: str = "run"
    # for dbt="parse": what dbt's refusal says ("segment boundary": the project's guard)
    dbt_says: str = "segment boundary"

    @property
    def name(self) -> str:
        return f"seg_{self.id}"

    def texts(self) -> dict[str, str]:
        """File name -> contents, markers removed."""
        out = {
            f"{self.name}.sql": self.sql,
            f"{self.name}.yml": (self.yml or default_yml("__NAME__")).replace(
                "__NAME__", self.name
            ),
        }
        for file, text in self.files.items():
            out[file.replace("__NAME__", self.name)] = text.replace("__NAME__", self.name)
        return {file: text.replace(MARK, "") for file, text in out.items()}

    def expected_position(self) -> tuple[str, int, int]:
        """(file name, line, column) of the marker."""
        raw = {
            f"{self.name}.sql": self.sql,
            f"{self.name}.yml": (self.yml or default_yml("__NAME__")).replace(
                "__NAME__", self.name
            ),
            **{f.replace("__NAME__", self.name): t for f, t in self.files.items()},
        }
        marked = [(f, t) for f, t in raw.items() if MARK in t]
        assert len(marked) == 1, f"{self.id}: exactly one file must hold the marker"
        file, text = marked[0]
        text = text.replace("__NAME__", self.name)
        return (file, *line_col(text, text.index(MARK)))


def config_yml(config: str) -> str:
    """A segment YAML whose config block adds `config` (already indented by 6)."""
    return (
        "version: 2\nmodels:\n  - name: __NAME__\n    description: a segment\n"
        "    config:\n      meta: {owner: red-team, refresh: daily}\n" + config
    )


SELECT = f"select person_id, email from {P}"

HOSTILE: list[Case] = [
    # ---- 1. config() in the .sql: hooks, headers, materializations, names ----------------
    Case(
        "cfg_pre_hook_copy",
        "config",
        MARK + '{{ config(pre_hook="copy (select email, phone from raw.crm_contacts) to '
        "'leak.csv'\") }}\n" + SELECT,
        "jinja",
        dbt="parse",
    ),
    Case(
        "cfg_post_hook",
        "config",
        SELECT + "\n" + MARK + '{{ config(post_hook="create table raw.pwned as select 1") }}',
        "jinja",
        dbt="parse",
    ),
    Case(
        "cfg_sql_header",
        "config",
        MARK + "{{ config(sql_header=\"attach 'other.duckdb' as other;\") }}\n" + SELECT,
        "jinja",
        dbt="parse",
    ),
    Case(
        "cfg_external",
        "config",
        MARK + "{{ config(materialized='external', location='leak.parquet') }}\n"
        f"select person_id, email from {P} where not consent_email",
        "jinja",
        dbt="parse",
    ),
    Case(
        "cfg_schema_alias_raw",
        "config",
        MARK + "{{ config(schema='raw', alias='consents') }}\n" + SELECT,
        "jinja",
        dbt="parse",
    ),
    Case(
        "cfg_alias_membership",
        "config",
        MARK + "{{ config(alias='segment_membership') }}\n" + SELECT,
        "jinja",
        dbt="parse",
    ),
    Case(
        "cfg_view",
        "config",
        MARK + "{{ config(materialized='view') }}\n" + SELECT,
        "jinja",
        dbt="parse",
    ),
    Case(
        "cfg_incremental",
        "config",
        MARK + "{{ config(materialized='incremental', unique_key='person_id', "
        "incremental_strategy='delete+insert') }}\n" + SELECT,
        "jinja",
        dbt="parse",
    ),
    # ---- 2. YAML beside the segment ------------------------------------------------------
    Case(
        "yml_schema_alias_scores",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=config_yml("      " + MARK + "schema: ml\n      alias: person_scores\n"),
        dbt="parse",
    ),
    Case(
        "yml_post_hook",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=config_yml(
            "      " + MARK + "post-hook: \"copy (select * from raw.crm_contacts) to 'leak.csv'\"\n"
        ),
        dbt="parse",
    ),
    Case(
        "yml_plus_pre_hook",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=config_yml("      " + MARK + '+pre-hook: ["select 1"]\n'),
        dbt="parse",
    ),
    Case(
        "yml_sql_header",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=config_yml("      " + MARK + 'sql_header: "set enable_external_access = true;"\n'),
        dbt="parse",
    ),
    Case(
        "yml_external",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=config_yml("      " + MARK + "materialized: external\n      location: leak.csv\n"),
        dbt="parse",
    ),
    Case(
        "yml_database",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=config_yml("      " + MARK + "database: other\n"),
        dbt="parse",
    ),
    Case(
        "yml_grants",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=config_yml("      " + MARK + "grants: {select: [public]}\n"),
        dbt="parse",
    ),
    Case(
        "yml_contract_check",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=config_yml("      " + MARK + "contract: {enforced: true}\n"),
        dbt="parse",
    ),
    Case(
        "yml_patches_staging",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=default_yml("__NAME__")
        + "  - name: "
        + MARK
        + "stg_crm__contacts\n    config:\n      post-hook: \"copy (select 1) to 'leak.csv'\"\n",
        dbt="parse",
        dbt_says="two schema.yml entries",
    ),
    Case(
        "yml_sources_identifier",
        "yaml",
        "select person_id from {{ source('shadow', 'scores') }}",
        "yaml_not_allowed",
        files={
            "_shadow__sources.yml": "version: 2\n"
            + MARK
            + "sources:\n  - name: shadow\n    schema: raw\n    tables:\n"
            "      - name: scores\n        identifier: crm_contacts\n"
        },
        dbt="parse",
    ),
    Case(
        "yml_unit_test_sql_fixture",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=default_yml("__NAME__")
        + MARK
        + "unit_tests:\n  - name: leak\n    model: __NAME__\n    given:\n"
        "      - input: ref('customer_profiles')\n        format: sql\n"
        '        rows: "select email as person_id, email from raw.crm_contacts"\n'
        "    expect:\n      rows: []\n",
        dbt="run",
    ),
    Case(
        "yml_seed_config",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=default_yml("__NAME__")
        + MARK
        + 'seeds:\n  - name: anything\n    config:\n      post-hook: "select 1"\n',
        dbt="run",
    ),
    Case(
        "yml_test_where",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=default_yml("__NAME__")
        + "    columns:\n      - name: person_id\n        data_tests:\n          - not_null:\n"
        "              config:\n                "
        + MARK
        + 'where: "1=1) or (select count(*) from raw.crm_contacts) > 0 or (1=1"\n',
        dbt="parse",
    ),
    Case(
        "yml_test_store_failures_raw",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=default_yml("__NAME__")
        + "    columns:\n      - name: person_id\n        data_tests:\n          - unique:\n"
        "              config:\n                "
        + MARK
        + "store_failures: true\n                schema: raw\n",
        dbt="parse",
    ),
    Case(
        "yml_accepted_values_injection",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=default_yml("__NAME__")
        + "    columns:\n      - name: email\n        data_tests:\n          - accepted_values:\n"
        "              values: ["
        + MARK
        + '"x\') union all select email from raw.crm_contacts --"]\n',
        dbt="parse",
    ),
    Case(
        "yml_custom_test",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=default_yml("__NAME__")
        + "    columns:\n      - name: person_id\n        data_tests:\n          - "
        + MARK
        + 'dbt_utils.expression_is_true:\n              expression: "1 = 1"\n',
        dbt="parse",
    ),
    Case(
        "yml_jinja_description",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml="version: 2\nmodels:\n  - name: __NAME__\n    description: "
        + MARK
        + "\"{{ run_query('copy raw.crm_contacts to ''leak.csv''') }}\"\n"
        "    config:\n      meta: {owner: red-team, refresh: daily}\n",
        dbt="parse",
        dbt_says="'run_query' is undefined",
    ),
    Case(
        "yml_merge_key",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml="version: 2\nmodels:\n  - name: __NAME__\n    description: a segment\n"
        "    config:\n      meta: {owner: red-team, refresh: daily}\n"
        "      " + MARK + "<<: {schema: raw, alias: consents}\n",
        dbt="parse",
    ),
    Case(
        "yml_billion_laughs",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml="version: 2\n"
        + MARK
        + "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
        "models:\n  - name: __NAME__\n    description: a segment\n"
        "    config:\n      meta: {owner: red-team, refresh: daily}\n",
        dbt="run",
    ),
    # ---- 3. Jinja beyond literal ref/source/var ------------------------------------------
    Case(
        "jinja_env_var",
        "jinja",
        "select person_id, '" + MARK + '{{ env_var("HOME") }}\' as leaked from ' + P,
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_run_query_copy",
        "jinja",
        MARK
        + "{% do run_query(\"copy (select * from raw.crm_contacts) to 'leak.csv'\") %}\n"
        + SELECT,
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_adapter_execute",
        "jinja",
        SELECT + "\n" + MARK + "{{ adapter.execute('create table raw.pwned as select 1') }}",
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_target_branch",
        "jinja",
        MARK + "{% if target.name == 'duckdb' %}select person_id, email from raw.crm_contacts"
        "{% else %}" + SELECT + "{% endif %}",
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_is_incremental",
        "jinja",
        SELECT + "\n" + MARK + "{% if is_incremental() %}union all select contact_id, email "
        "from raw.crm_contacts{% endif %}",
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_this",
        "jinja",
        SELECT + " where '" + MARK + "{{ this }}' <> ''",
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_target_path",
        "jinja",
        "select person_id, '" + MARK + "{{ target['path'] }}' as path from " + P,
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_string_times_1e12",
        "jinja",
        "select person_id, '" + MARK + '{{ "x" * 1000000000000 }}\' as x from ' + P,
        "jinja",
        dbt="parse",
        dbt_says="seg_jinja_string_times_1e12",
    ),
    Case(
        "jinja_power_tower",
        "jinja",
        "select person_id, " + MARK + "{{ 9 ** (9 ** 9) }} as x from " + P,
        "jinja",
        dbt="hang",
    ),
    Case(
        "jinja_nested_parens",
        "jinja",
        "select person_id, " + MARK + "{{ " + "(" * 600 + "1" + ")" * 600 + " }} as x from " + P,
        "jinja",
        dbt="parse",
        dbt_says="maximum recursion depth",
    ),
    Case(
        "jinja_macro_definition",
        "jinja",
        MARK + "{% macro ref(x) %}raw.crm_contacts{% endmacro %}\n" + SELECT,
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_set_and_loop",
        "jinja",
        MARK + "{% set t = 'raw.crm_contacts' %}select person_id from " + P,
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_ref_staging",
        "jinja",
        "select contact_id as person_id, company from " + MARK + "{{ ref('stg_crm__contacts') }}",
        "jinja",
    ),
    Case(
        "jinja_source_raw",
        "jinja",
        "select person_id from " + MARK + "{{ source('crm', 'contacts') }}",
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_var_text",
        "jinja",
        "select person_id from " + P + " where country = " + MARK + "{{ var('nope_text') }}",
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_whitespace_control",
        "jinja",
        "select person_id, email from " + MARK + "{{- ref('customer_profiles') -}}",
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_log_secret",
        "jinja",
        SELECT + "\n" + MARK + "{{ log(env_var('HOME'), info=True) }}",
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_raw_block",
        "jinja",
        MARK + "{% raw %}{{ nothing }}{% endraw %}\n" + SELECT,
        "jinja",
        dbt="parse",
    ),
    # ---- 4. relations: scoping, system views, files, other schemas ----------------------
    Case(
        "rel_raw_pii",
        "relations",
        "select contact_id as person_id, company from " + MARK + "raw.crm_contacts",
        "relation_not_allowed",
    ),
    Case(
        "rel_staging_view",
        "relations",
        "select person_id from "
        + P
        + " where email in (select email from "
        + MARK
        + "staging.stg_crm__contacts)",
        "relation_not_allowed",
    ),
    Case(
        "rel_truth",
        "relations",
        "select person_id from " + MARK + "truth.identifier_person",
        "relation_not_allowed",
    ),
    Case(
        "rel_information_schema",
        "relations",
        "select p.person_id, t.table_name from "
        + P
        + " p join "
        + MARK
        + "information_schema.tables t on t.table_name = p.person_id",
        "relation_not_allowed",
    ),
    Case(
        "rel_cte_scope_pg_settings",
        "relations",
        "with a as (\n    with pg_settings as (select 1 as x)\n    select * from pg_settings\n),\n"
        "b as (select name, setting from " + MARK + "pg_settings)\n"
        "select p.person_id, b.setting from " + P + " p join b on b.name = p.email",
        "unqualified_relation",
    ),
    Case(
        "rel_cte_scope_duckdb_databases",
        "relations",
        "select p.person_id,\n  (with duckdb_databases as (select 'x' as path) select max(path) "
        "from duckdb_databases) as a,\n  (select max(path) from "
        + MARK
        + "duckdb_databases) as b\nfrom "
        + P
        + " p",
        "unqualified_relation",
    ),
    Case(
        "rel_cte_forward_reference",
        "relations",
        "with a as (select * from " + MARK + "duckdb_views),\nduckdb_views as (select 1 as sql)\n"
        "select p.person_id from " + P + " p cross join (select max(sql) as s from a) v",
        "unqualified_relation",
    ),
    Case(
        "rel_cte_self_reference",
        "relations",
        "with r as (select 1 as n union all select n + 1 from " + MARK + "r where n < 1000000000)\n"
        "select p.person_id from " + P + " p cross join (select max(n) as m from r) x",
        "unqualified_relation",
    ),
    Case(
        "rel_bare_file_name",
        "relations",
        "select person_id from " + MARK + "segments.csv",
        "file_access",
    ),
    Case(
        "rel_quoted_parquet",
        "relations",
        "select person_id from " + MARK + "'leak.parquet'",
        "file_access",
    ),
    Case(
        "rel_three_part",
        "relations",
        "select contact_id as person_id, company from " + MARK + "tessera.raw.crm_contacts",
        "cross_database",
    ),
    Case(
        "rel_not_a_segment",
        "relations",
        "select person_id from " + MARK + "segments.segment_membership",
        "relation_not_allowed",
    ),
    Case(
        "rel_read_text",
        "files",
        "select p.person_id, t.content from " + P + " p, " + MARK + "read_text('canary.txt') t",
        "file_access",
    ),
    Case(
        "rel_read_csv_scalar",
        "files",
        "select person_id, (select count(*) from "
        + MARK
        + "read_csv('canary.txt')) as n from "
        + P,
        "file_access",
    ),
    Case(
        "rel_query_table",
        "relations",
        "select * from " + MARK + "query_table('raw.crm_contacts')",
        "file_access",
    ),
    Case(
        "rel_duckdb_settings",
        "relations",
        "select p.person_id, s.value from "
        + P
        + " p join "
        + MARK
        + "duckdb_settings() s on s.name = p.email",
        "function_not_allowed",
    ),
    Case(
        "rel_generate_series",
        "resources",
        "select p.person_id from " + P + " p, " + MARK + "generate_series(1, 1000000000) g",
        "function_not_allowed",
    ),
    # ---- 5. statements and files ---------------------------------------------------------
    Case(
        "stmt_copy_out",
        "files",
        MARK + "copy (select email from raw.crm_contacts) to 'leak.csv'",
        "not_select",
    ),
    Case(
        "stmt_attach",
        "files",
        MARK + "attach 'other.duckdb' as other",
        "not_select",
    ),
    Case(
        "stmt_semicolon_then_copy",
        "files",
        SELECT + MARK + "; copy (select email from raw.crm_contacts) to 'leak.csv'",
        "multiple_statements",
        dbt="parse",
    ),
    Case(
        "stmt_semicolon_in_string",
        "files",
        "select person_id from " + P + " where email <> 'a" + MARK + ";b'",
        "multiple_statements",
        dbt="parse",
    ),
    Case(
        "stmt_set_external_access",
        "files",
        MARK + "set enable_external_access = true",
        "not_select",
    ),
    Case(
        "stmt_install_httpfs",
        "files",
        MARK + "install httpfs",
        "not_select",
    ),
    Case(
        "fn_getenv",
        "files",
        "select person_id, " + MARK + "getenv('HOME') as home from " + P,
        "function_not_allowed",
    ),
    Case(
        "fn_current_setting",
        "files",
        "select person_id, " + MARK + "current_setting('temp_directory') as t from " + P,
        "function_not_allowed",
    ),
    # ---- 6. where DuckDB and Snowflake read the text differently -------------------------
    Case(
        "dialect_slash_comment",
        "dialect",
        "select person_id, 10 " + MARK + "// (select count(*) from raw.crm_contacts)\n"
        "  as n from " + P,
        "dialects_disagree",
    ),
    Case(
        "dialect_nested_comment",
        "dialect",
        "select person_id " + MARK + "/* a /* b */ , (select max(email) from raw.crm_contacts) "
        "as e /* c */ from " + P,
        "nested_comment",
    ),
    Case(
        "dialect_backslash_quote",
        "dialect",
        "select person_id from " + P + " where email = " + MARK + "'a\\' or 1 = 1 --'",
        "backslash_string",
    ),
    Case(
        "dialect_escape_string",
        "dialect",
        "select person_id from " + P + " where email = " + MARK + "E'\\x27'",
        "special_string",
    ),
    Case(
        "dialect_dollar_string",
        "dialect",
        "select person_id, " + MARK + "$$raw$$ as x from " + P,
        "special_string",
    ),
    Case(
        "dialect_zero_width",
        "dialect",
        "select person_id from " + P + " where email " + MARK + "\u200b= 'x'",
        "control_character",
    ),
    Case(
        "dialect_bidi_override",
        "dialect",
        "select person_id from " + P + " -- " + MARK + "\u202e gnirts",
        "control_character",
    ),
    Case(
        "dialect_nul_byte",
        "dialect",
        "select person_id from " + P + " where email = 'a" + MARK + "\x00'",
        "control_character",
    ),
    Case(
        "dialect_session_variable",
        "dialect",
        "select person_id from " + P + " where email = " + MARK + "$secret",
        "parameter",
    ),
    # ---- 7. resources --------------------------------------------------------------------
    Case(
        "res_triple_cross_join",
        "resources",
        "select a.person_id from " + P + " a cross join " + MARK + P + " b cross join " + P + " c",
        "cartesian_product",
    ),
    Case(
        "res_join_on_true",
        "resources",
        "select a.person_id from " + P + " a join " + MARK + "identity.identity_graph g on true",
        "cartesian_product",
    ),
    Case(
        "res_comma_join",
        "resources",
        "select a.person_id from "
        + P
        + " a, "
        + MARK
        + "identity.persons b where a.email is not null",
        "cartesian_product",
    ),
    Case(
        "res_lpad_2e9",
        "resources",
        "select person_id, " + MARK + "lpad(email, 2000000000, 'x') as e from " + P,
        "resource_limit",
    ),
    Case(
        "res_recursive_cte",
        "resources",
        MARK + "with recursive r(n) as (select 1 union all select n + 1 from r)\n"
        "select p.person_id from " + P + " p cross join (select max(n) as m from r) x",
        "recursive_cte",
    ),
    Case(
        "res_cte_explosion",
        "resources",
        "with a0 as (select person_id from "
        + P
        + "),\n"
        + "".join(
            f"a{i} as (select x.person_id from {MARK if i == 10 else ''}a{i - 1} x "
            f"join a{i - 1} y using (person_id)),\n"
            for i in range(1, 12)
        )
        + "a12 as (select person_id from a11)\n"
        + "select distinct person_id from a12",
        "too_many_scans",
    ),
    Case(
        "res_600_parentheses",
        "crash",
        "select person_id, " + "(" * 40 + MARK + "(" * 560 + "1" + ")" * 600 + " as x from " + P,
        "too_deep",
        dbt="run",
    ),
    Case(
        "res_huge_file",
        "crash",
        MARK + "select person_id from " + P + "\n" + ("-- padding\n" * 12_000),
        "jinja",
    ),
    # ---- 8. files that are not segments ----------------------------------------------------
    Case(
        "file_python_model",
        "files",
        SELECT,
        "file_not_allowed",
        files={
            "__NAME___py.py": MARK + "def model(dbt, session):\n"
            "    session.execute(\"copy (select * from raw.crm_contacts) to 'leak.csv'\")\n"
            "    return session.sql('select 1 as person_id')\n"
        },
        dbt="parse",
    ),
    Case(
        "file_docs_block",
        "files",
        SELECT,
        "file_not_allowed",
        files={"__NAME__.md": MARK + "{% docs x %}{{ run_query('select 1') }}{% enddocs %}\n"},
        dbt="parse",
        dbt_says="'run_query' is undefined",
    ),
    Case(
        "file_subfolder_model",
        "files",
        SELECT,
        "file_not_allowed",
        files={
            "nested/__NAME___nested.sql": MARK + "select email as person_id from raw.crm_contacts"
        },
        dbt="run",
    ),
    # ---- 9. plain mistakes still get a position ------------------------------------------
    Case(
        "syntax_error",
        "syntax",
        "select person_id,\n  email\nfrom " + P + "\nwhere " + MARK + "and email is not null",
        "parse_error",
    ),
    Case(
        "unterminated_string",
        "syntax",
        "select person_id from " + P + " where email = " + MARK + "'abc",
        "tokenize",
    ),
]

# Valid segments that look suspicious: the checker must accept every one.


# ---- Written afresh as an outside tester would: config keys dbt accepts beyond the obvious
# ones, a snapshot defined in YAML, test configs and arguments that read elsewhere, Jinja
# context objects, catalog and Snowflake functions, homoglyphs, quoting, chains deep enough
# to crash a parser, and memory DuckDB's own limit does not count.
def _many(n: int, piece: str, sep: str) -> str:
    return sep.join([piece] * n)


HOSTILE += [
    # config
    Case(
        "cfg_persist_docs",
        "config",
        MARK + "{{ config(persist_docs={'relation': true}) }}\n" + SELECT,
        "jinja",
        dbt="parse",
    ),
    Case(
        "cfg_plus_key_hook",
        "config",
        MARK + "{{ config(**{'+post-hook': 'select 1'}) }}\n" + SELECT,
        "jinja",
        dbt="parse",
    ),
    # yaml
    Case(
        "yml_persist_docs",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=config_yml("      " + MARK + "persist_docs: {relation: true, columns: true}\n"),
        dbt="parse",
    ),
    Case(
        "yml_on_schema_change",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=config_yml("      " + MARK + "on_schema_change: sync_all_columns\n"),
        dbt="parse",
    ),
    Case(
        "yml_versions_alias",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml="version: 2\nmodels:\n  - name: __NAME__\n    latest_version: 1\n    "
        + MARK
        + "versions:\n      - v: 1\n        defined_in: __NAME__\n        config: {schema: "
        "ml, alias: person_scores}\n",
        dbt="parse",
    ),
    Case(
        "yml_snapshot_in_segments",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=default_yml("__NAME__")
        + MARK
        + "snapshots:\n  - name: __NAME___snap\n    relation: ref('customer_profiles')\n    "
        "config:\n      schema: raw\n      unique_key: person_id\n      strategy: "
        'check\n      check_cols: all\n      post_hook: "create table raw.pwned as '
        'select 1"\n',
        dbt="parse",
    ),
    Case(
        "yml_test_fail_calc",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml="version: 2\nmodels:\n  - name: __NAME__\n    columns:\n      - name: "
        "person_id\n        data_tests:\n          - not_null:\n              config:\n  "
        "              " + MARK + 'fail_calc: "(select count(*) from raw.crm_contacts)"\n',
        dbt="parse",
    ),
    Case(
        "yml_test_error_if",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml="version: 2\nmodels:\n  - name: __NAME__\n    columns:\n      - name: "
        "person_id\n        data_tests:\n          - unique:\n              config:\n    "
        "            " + MARK + 'error_if: "> (select count(*) from raw.crm_contacts)"\n',
        dbt="parse",
    ),
    Case(
        "yml_relationships_to_staging",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml="version: 2\nmodels:\n  - name: __NAME__\n    columns:\n      - name: email\n    "
        "    data_tests:\n          - relationships:\n              to: "
        + MARK
        + "ref('stg_crm__contacts')\n              field: email\n",
    ),
    Case(
        "yml_column_name_injection",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml="version: 2\nmodels:\n  - name: __NAME__\n    columns:\n      - name: "
        + MARK
        + '"person_id from raw.crm_contacts --"\n        data_tests: [not_null]\n',
        dbt="parse",
    ),
    Case(
        "yml_deep_nesting",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml=default_yml("__NAME__")
        + "      meta: {x: "
        + "[" * 19
        + MARK
        + "[" * 4981
        + "]" * 5000
        + "}\n",
        dbt="parse",
        dbt_says="Cycle detected",
    ),
    Case(
        "yml_dot_yaml_post_hook",
        "yaml",
        SELECT,
        "yaml_not_allowed",
        yml="version: 2\nmodels: []\n",
        files={
            "__NAME__.props.yaml": config_yml(
                "      "
                + MARK
                + "post_hook: \"copy (select * from raw.crm_contacts) to 'leak.csv'\"\n"
            )
        },
        dbt="parse",
    ),
    # jinja
    Case(
        "jinja_call_statement",
        "jinja",
        MARK + "{% call statement('x', fetch_result=True) %}select email from raw.crm_contacts{% "
        "endcall %}\n" + SELECT,
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_load_result",
        "jinja",
        "select person_id, '" + MARK + "{{ load_result('x') }}' as r from " + P,
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_adapter_columns",
        "jinja",
        "select person_id, '"
        + MARK
        + "{{ adapter.get_columns_in_relation(api.Relation.create(schema='raw', "
        "identifier='crm_contacts')) }}' as c from " + P,
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_comment_does_not_nest",
        "jinja",
        "{# a {# b #}" + MARK + "{{ env_var('TESSERA_CANARY') }} #}\n" + SELECT,
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_ref_homoglyph",
        "jinja",
        "select person_id from " + MARK + "{{ ref('customer_pr\u043efiles') }}",
        "jinja",
        dbt="parse",
    ),
    Case(
        "jinja_modules_os",
        "jinja",
        "select person_id, '" + MARK + "{{ modules.datetime.datetime.now() }}' as t from " + P,
        "jinja",
        dbt="parse",
    ),
    # relations
    Case(
        "rel_quoted_raw",
        "relations",
        "select email from " + MARK + '"raw"."crm_contacts"',
        "relation_not_allowed",
    ),
    Case(
        "rel_upper_raw",
        "relations",
        "select EMAIL from " + MARK + "RAW.CRM_CONTACTS",
        "relation_not_allowed",
    ),
    Case(
        "rel_dotted_identifier",
        "relations",
        "select person_id from " + MARK + '"profiles.customer_profiles"',
        "file_access",
    ),
    Case(
        "rel_from_first",
        "relations",
        "from " + MARK + "raw.crm_contacts select email",
        "relation_not_allowed",
    ),
    Case(
        "rel_pragma_table_info",
        "relations",
        "select p.person_id, t.name from "
        + P
        + " p, "
        + MARK
        + "pragma_table_info('raw.crm_contacts') t",
        "function_not_allowed",
    ),
    Case(
        "rel_duckdb_secrets",
        "relations",
        "select person_id, (select count(*) from " + MARK + "duckdb_secrets()) as n from " + P,
        "function_not_allowed",
    ),
    Case(
        "rel_getvariable",
        "relations",
        "select person_id, " + MARK + "getvariable('secret') as v from " + P,
        "function_not_allowed",
    ),
    Case(
        "rel_nextval",
        "relations",
        "select person_id, " + MARK + "nextval('identity.person_seq') as n from " + P,
        "function_not_allowed",
    ),
    Case(
        "rel_http_string",
        "relations",
        "select * from " + MARK + "'http://127.0.0.1:9/leak.csv'",
        "file_access",
    ),
    Case(
        "rel_read_parquet_https",
        "relations",
        "select * from " + MARK + "read_parquet('https://example.com/x.parquet')",
        "file_access",
    ),
    Case(
        "rel_glob_etc",
        "relations",
        "select file as person_id from " + MARK + "glob('/etc/*')",
        "file_access",
    ),
    Case(
        "rel_sf_query_history",
        "relations",
        "select query_text as person_id from " + MARK + "table(information_schema.query_history())",
        "parse_error",
    ),
    Case(
        "rel_sf_identifier",
        "relations",
        "select email as person_id from " + MARK + "identifier('raw.crm_contacts')",
        "function_not_allowed",
    ),
    Case(
        "rel_sf_stage",
        "relations",
        "select " + MARK + "$1 as person_id from @raw_stage/contacts.csv",
        "parameter",
    ),
    Case(
        "rel_sf_result_scan",
        "relations",
        "select * from " + MARK + "table(result_scan(last_query_id()))",
        "parse_error",
    ),
    Case(
        "rel_membership_alias_homoglyph",
        "relations",
        "select person_id from " + MARK + "raw.crm_contact\u0455",
        "bad_relation_name",
    ),
    Case("stmt_load_httpfs", "relations", MARK + "load httpfs", "not_select"),
    Case(
        "stmt_pivot",
        "relations",
        MARK + "pivot raw.crm_contacts on email using count(*)",
        "not_select",
    ),
    # dialect
    Case(
        "dialect_nbsp",
        "dialect",
        "select person_id from\u00a0" + MARK + "raw.crm_contacts",
        "relation_not_allowed",
    ),
    # resources
    Case(
        "res_join_on_inequality",
        "resources",
        "select a.person_id from " + P + " a join " + MARK + P + " b on a.person_id < b.person_id",
        "cartesian_product",
    ),
    Case(
        "res_join_on_or_true",
        "resources",
        "select a.person_id from "
        + P
        + " a join "
        + MARK
        + P
        + " b on a.person_id = b.person_id or true",
        "cartesian_product",
    ),
    Case(
        "res_union_3000",
        "resources",
        MARK + "select person_id from " + P + "\n" + _many(3000, "union all select 'x'", "\n"),
        "too_complex",
    ),
    Case(
        "res_and_chain_5000",
        "resources",
        MARK + "select person_id from " + P + " where " + _many(5000, "1 = 1", " and "),
        "too_large",
    ),
    Case(
        "res_nested_functions_900",
        "resources",
        "select person_id, "
        + "abs(" * 40
        + "abs"
        + MARK
        + "("
        + "abs(" * 859
        + "1"
        + ")" * 900
        + " as x from "
        + P,
        "too_deep",
    ),
    Case(
        "res_concat_chain_6000",
        "resources",
        MARK + "select person_id, " + _many(6000, "'a'", " || ") + " as x from " + P,
        "parse_error",
    ),
    Case(
        "res_repeat_2e9",
        "resources",
        "select person_id, " + MARK + "repeat(email, 2000000000) as e from " + P,
        "function_not_allowed",
    ),
    Case(
        "res_range_list",
        "resources",
        "select person_id, " + MARK + "unnest(range(1, 2000000000)) as n from " + P,
        "function_not_allowed",
    ),
    # files
    Case(
        "file_macro_override",
        "files",
        SELECT,
        "jinja",
        files={
            "zz_helpers.sql": MARK
            + "{% macro ref(name) %}raw.crm_contacts{% endmacro %}\nselect 1 as person_id\n",
            "zz_helpers.yml": default_yml("zz_helpers"),
        },
        dbt="parse",
    ),
    Case(
        "file_uppercase_yml",
        "files",
        SELECT,
        "file_not_allowed",
        files={"__NAME__.YML": MARK + "version: 2\n"},
    ),
]

HOSTILE += [
    Case(
        "file_named_segment_membership",
        "files",
        SELECT,
        "catalog",
        files={
            "segment_membership.sql": MARK + SELECT,
            "segment_membership.yml": default_yml("segment_membership"),
        },
        dbt="parse",
    ),
    Case(
        "file_name_case_twin",  # DuckDB folds case: segments.Lapsed_Vips is lapsed_vips
        "files",
        SELECT,
        "catalog",
        files={"Lapsed_Vips.sql": MARK + SELECT, "Lapsed_Vips.yml": default_yml("Lapsed_Vips")},
        dbt="parse",
    ),
]

VALID: list[Case] = [
    Case(
        "ok_window_qualify",
        "valid",
        (
            "select person_id, email, revenue_total,\n"
            "  rank() over (partition by country order by revenue_total desc) as country_rank\n"
            f"from {P}\n"
            "qualify row_number() over (partition by person_id order by revenue_total) = 1"
        ),
    ),
    Case(
        "ok_nested_ctes",
        "valid",
        (
            f"with profiles as (\n    select * from {P}\n),\n"
            "vips as (\n    with ranked as (\n"
            "        select person_id, clv_quintile from profiles\n"
            "    )\n    select person_id from ranked where clv_quintile = 5\n),\n"
            "final as (\n    select profiles.person_id, profiles.email from profiles\n"
            "    inner join vips on vips.person_id = profiles.person_id\n)\n"
            "select * from final"
        ),
    ),
    Case(
        "ok_union_distinct",
        "valid",
        (
            f"select person_id from {P} where consent_email\n"
            f"union\nselect person_id from {P} where consent_sms"
        ),
    ),
    Case(
        "ok_except_intersect",
        "valid",
        (
            f"select person_id from {P} where orders_count > 0\n"
            "except\nselect person_id from identity.persons where not is_known"
        ),
    ),
    Case(
        "ok_lateral_subquery",
        "valid",
        (
            "select p.person_id, best.score\n"
            f"from {P} p,\n"
            f"lateral (select max(s.score) as score from {S} s where s.person_id = p.person_id)"
            " as best"
        ),
    ),
    Case(
        "ok_json_access",
        "valid",
        (f"select person_id,\n  '{{\"tier\": \"gold\"}}'::json ->> '$.tier' as tier\nfrom {P}"),
    ),
    Case(
        "ok_date_math",
        "valid",
        (
            "select person_id,\n  date_diff('day', last_order_at, current_timestamp) as days,\n"
            "  date_trunc('month', first_seen_at) as cohort,\n"
            "  last_seen_at + interval 30 day as follow_up_at\n"
            f"from {P}\nwhere last_order_at >= current_date - interval 90 day"
        ),
    ),
    Case(
        "ok_reads_other_segment",
        "valid",
        (
            "select v.person_id, p.email\nfrom {{ ref('seg_ok_nested_ctes') }} v\n"
            f"inner join {P} p on p.person_id = v.person_id"
        ),
    ),
    Case(
        "ok_person_scores",
        "valid",
        (
            f"select p.person_id, s.score\nfrom {P} p\n"
            f"inner join {S} s on s.person_id = p.person_id and s.model = 'churn_90d'\n"
            "where s.decile >= 8"
        ),
    ),
    Case(
        "ok_scores_by_name",
        "valid",
        ("select person_id, max(score) as best_score from ml.person_scores group by person_id"),
    ),
    Case(
        "ok_cte_named_like_system_view",
        "valid",
        (
            f"with duckdb_views as (\n    select person_id, email from {P}\n)\n"
            "select person_id, email from duckdb_views"
        ),
    ),
    Case(
        "ok_cte_shadows_readable_name",
        "valid",
        (
            f"with customer_profiles as (select * from {P} where consent_ads)\n"
            "select person_id from customer_profiles"
        ),
    ),
    Case(
        "ok_suspicious_strings_and_comments",
        "valid",
        (
            "-- copy (select * from raw.crm_contacts) to 'x.csv' is what we never do\n"
            "/* attach, pragma and read_csv are just words here */\n"
            "select person_id, 'raw.crm_contacts' as label, 'x.parquet' as file_name\n"
            f"from {P}\nwhere email not like '%@example.com'"
        ),
    ),
    Case(
        "ok_exists_and_in",
        "valid",
        (
            f"select p.person_id from {P} p\n"
            "where exists (select 1 from identity.identity_graph g where g.person_id = p.person_id "
            "and g.id_type = 'phone')\n"
            "  and p.person_id not in (select person_id from identity.persons where not is_known)"
        ),
    ),
    Case(
        "ok_group_by_having",
        "valid",
        (
            "select g.person_id, count(*) as identifiers\nfrom identity.identity_graph g\n"
            "group by g.person_id\nhaving count(*) >= 2"
        ),
    ),
    Case(
        "ok_case_coalesce_casts",
        "valid",
        (
            "select person_id,\n"
            "  case when clv_quintile >= 4 then 'high' else 'standard' end as tier,\n"
            "  coalesce(first_name, '') || ' ' || coalesce(last_name, '') as full_name,\n"
            "  cast(revenue_total as decimal(12, 2)) as revenue,\n"
            "  orders_count::varchar as orders\n"
            f"from {P}"
        ),
    ),
    Case(
        "ok_cross_join_scalar",
        "valid",
        (
            "select p.person_id, p.revenue_total / nullif(t.total, 0) as share\n"
            f"from {P} p\ncross join (select sum(revenue_total) as total from {P}) t"
        ),
    ),
    Case(
        "ok_join_small_values",
        "valid",
        (
            "select p.person_id, w.weight\n"
            f"from {P} p\n"
            "join (values ('champions', 3), ('at_risk', 2)) as w(segment, weight)\n"
            "  on w.segment = p.rfm_segment"
        ),
    ),
    Case(
        "ok_var_threshold",
        "valid",
        (
            f"select person_id from {P}\n"
            "where days_since_last_order > {{ var('lifecycle_churn_days') }}"
        ),
    ),
    Case(
        "ok_small_pad",
        "valid",
        (f"select person_id, lpad(cast(orders_count as varchar), 4, '0') as orders from {P}"),
    ),
    Case(
        "ok_jinja_comment",
        "valid",
        (
            "{# owner: growth; reviewed 2026-11 #}\n"
            f"select person_id from {P} where lifecycle_stage = 'at_risk'"
        ),
    ),
    Case(
        "ok_window_frames",
        "valid",
        (
            "select person_id, avg(score) over (partition by model order by score\n"
            "  rows between 10 preceding and current row) as rolling\n"
            f"from {S}\nwhere model = 'purchase_30d'"
        ),
    ),
    Case(
        "ok_integer_division_word",
        "valid",
        (f"select person_id, revenue_total / 2 as half, orders_count % 2 as parity from {P}"),
    ),
    Case(
        "ok_distinct_graph",
        "valid",
        ("select distinct person_id from identity.identity_graph where id_type = 'email'"),
    ),
    Case(
        "ok_ml_lifetime_value_and_clusters",
        "valid",
        "with lifetime as (\n"
        "    select person_id, p_alive, predicted_clv_365d\n"
        "    from {{ source('ml', 'person_lifetime_value') }}\n"
        "),\n\n"
        "clusters as (\n"
        "    select person_id, cluster_label from {{ source('ml', 'person_clusters') }}\n"
        ")\n\n"
        "select p.person_id, p.email, lifetime.predicted_clv_365d, clusters.cluster_label\n"
        f"from {P} p\n"
        "join lifetime on lifetime.person_id = p.person_id\n"
        "left join clusters on clusters.person_id = p.person_id\n"
        "where lifetime.p_alive > 0.3 and lifetime.predicted_clv_365d > 10",
    ),
    Case(
        "ok_meta_named_like_hooks",
        "valid",
        SELECT,
        yml=config_yml("      tags: [segment]\n").replace(
            "refresh: daily}", "refresh: daily, post_hook: none, sql_header: none}"
        ),
    ),
    Case(
        "ok_yaml_with_tests",
        "valid",
        SELECT,
        yml=(
            "version: 2\nmodels:\n  - name: __NAME__\n    description: >\n      Tested segment.\n"
            "    config:\n      tags: [segment, tested]\n      meta:\n        owner: growth\n"
            "        refresh: hourly\n        syncs: []\n    columns:\n      - name: person_id\n"
            "        data_tests:\n          - unique\n          - not_null\n"
            "          - relationships:\n              to: ref('customer_profiles')\n"
            "              field: person_id\n      - name: email\n        data_tests:\n"
            "          - accepted_values:\n              values: ['a@b.com', 'c@d.com']\n"
            "              config:\n                severity: warn\n"
        ),
    ),
]
