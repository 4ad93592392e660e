"""What `tessera sources check` counts as a placeholder or a malformed identifier: what the build
does, asked of dbt.

There is no copy of identity's rules here. dbt compiles `tessera_identifier_verdict` (macros/
sources/identifier_verdict.sql) for every identifier type: staging's normalisation macros,
then identity's own `identity_invalid_reason` with `identity_config()` and any `identity_*`
var (dbt_project.yml, or the check's `--vars`). The compiled CASE expressions are applied to
the raw columns, so a rule identity adds, drops or changes is the check's at once. The
expressions are in the target's dialect (staging's macros dispatch), so the check puts them
into its SQL after transpiling the rest (tessera/sources/table_checks.py).
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tessera.settings import Settings

ID_TYPES = ("email", "phone", "user_id", "crm_id", "loyalty_id", "device_id", "anonymous_id")
# the column a compiled verdict reads; replaced by the raw column's SQL
VALUE = "tessera_raw_identifier_value"
_MARKED = re.compile(r"/\*tessera:(\w+)\*/(.*?)/\*end\*/", re.DOTALL)
PLACEHOLDER_VERDICTS = ("placeholder", "blocked_value")
INVALID_VERDICT = "invalid_format"


class IdentifierRulesError(RuntimeError):
    """dbt could not compile identity's rules (a bad identity_* var, a broken macro)."""


@dataclass(frozen=True)
class IdentifierRules:
    verdicts: dict[str, str]  # id_type -> SQL over VALUE: null, or why identity drops it

    @classmethod
    def compile(cls, settings: Settings, vars_text: str | None = None) -> IdentifierRules:
        """Identity's rules for every identifier type, compiled by dbt for the settings'
        target (DuckDB's or Snowflake's dialect: the macros dispatch)."""
        from tessera.dbt import DbtError, run_dbt

        inline = "select " + ", ".join(
            f"/*tessera:{t}*/ {{{{ tessera_identifier_verdict('{t}', '{VALUE}') }}}} /*end*/"
            for t in ID_TYPES
        )
        args = ["compile", "--inline", inline, "--output", "json", "--quiet"]
        if vars_text is not None:
            args += ["--vars", vars_text]
        try:
            if settings.target == "duckdb":
                # the project's own target: the parse cache stays valid for the next build
                output = run_dbt(settings, args, stream=False).output
            else:
                with tempfile.TemporaryDirectory(prefix="tessera-check-") as scratch:
                    target = ["--target-path", str(Path(scratch) / "target")]
                    output = run_dbt(settings, [*args, *target], stream=False).output
        except DbtError as exc:
            raise IdentifierRulesError(f"dbt could not compile identity's rules: {exc}") from exc
        return cls(parse_compiled(output))

    def verdict_sql(self, id_type: str, value: str) -> str:
        """In the target's dialect: null when identity keeps `value` (or it is null), else
        'placeholder', 'blocked_value' or 'invalid_format'."""
        return f"({self.verdicts[id_type].replace(VALUE, value)})"


def parse_compiled(output: str) -> dict[str, str]:
    """The per-type expressions from `dbt compile --inline --output json`."""
    start = output.find("{")
    try:
        compiled = json.loads(output[start:])["compiled"] if start >= 0 else ""
    except (ValueError, KeyError):
        compiled = ""
    verdicts = {m.group(1): m.group(2).strip() for m in _MARKED.finditer(compiled)}
    missing = [t for t in ID_TYPES if t not in verdicts]
    if missing:
        raise IdentifierRulesError(
            f"dbt compiled no identity rule for {', '.join(missing)}: {output[-2000:]}"
        )
    return verdicts
