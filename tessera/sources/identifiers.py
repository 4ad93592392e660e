"""What `tessera sources check` counts as a placeholder or an invalid identifier.

The defaults are identity's (dbt_project/macros/identity/identity_config.sql): the same
placeholder list and patterns, the same shapes of a valid email and phone. A dbt var
`identity_placeholder_values` or `identity_blocked_values` in dbt_project.yml overrides them
here as it does there. The check measures raw values, before staging normalises them: an email
is trimmed and lower-cased first, a phone is judged by its digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from tessera.settings import DBT_PROJECT_DIR

PLACEHOLDER_VALUES = (
    "", "unknown", "null", "none", "nil", "nan", "undefined", "[object object]", "0", "-1",
    "anonymous", "anon", "guest", "n/a", "na", "test", "default", "not set", "not available",
    "00000000-0000-0000-0000-000000000000",
)  # fmt: skip
PLACEHOLDER_PATTERNS = ("^[0-]+$", "^[f-]{32,}$")
BLOCKED_VALUES = {
    "email": (
        "test@test.com", "test@example.com", "email@example.com", "noemail@noemail.com",
        "none@none.com", "no@email.com", "a@a.com", "noreply@noreply.com", "null@null.com",
        "unknown@unknown.com",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class IdentifierRules:
    placeholders: tuple[str, ...]
    patterns: tuple[str, ...]
    blocked: dict[str, tuple[str, ...]]

    @classmethod
    def from_project(cls, project_dir: Path = DBT_PROJECT_DIR) -> IdentifierRules:
        project = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
        variables = project.get("vars") or {}
        blocked = variables.get("identity_blocked_values") or BLOCKED_VALUES
        return cls(
            placeholders=tuple(
                str(v).lower()
                for v in variables.get("identity_placeholder_values") or PLACEHOLDER_VALUES
            ),
            patterns=tuple(variables.get("identity_placeholder_patterns") or PLACEHOLDER_PATTERNS),
            blocked={k: tuple(str(x).lower() for x in v) for k, v in blocked.items()},
        )

    def placeholder_sql(self, id_type: str, value: str) -> str:
        """DuckDB SQL: the trimmed, lower-cased value is a placeholder or blocked."""
        listed = [*self.placeholders, *self.blocked.get(id_type, ())]
        in_list = ", ".join("'" + v.replace("'", "''") + "'" for v in listed)
        norm = f"lower(trim({value}))"
        patterns = " or ".join(f"regexp_matches({norm}, '{p}')" for p in self.patterns)
        return f"({norm} in ({in_list}){' or ' + patterns if patterns else ''})"

    @staticmethod
    def invalid_sql(id_type: str, value: str) -> str | None:
        """DuckDB SQL: the value cannot become a valid identifier of its type (None: any
        non-empty value without whitespace is valid)."""
        norm = f"lower(trim({value}))"
        if id_type == "email":
            space = "[:space:]"
            return f"not regexp_matches({norm}, '^[^@{space}]+@[^@{space}]+[.][a-z]{{2,}}$')"
        if id_type == "phone":
            # digits: the length without them, taken from the length (translate works alike in
            # DuckDB and Snowflake; regexp_replace's flags do not)
            digits = f"(length({value}) - length(translate({value}, '0123456789', '')))"
            return f"(regexp_matches({value}, '^.*[a-zA-Z].*$') or {digits} < 8 or {digits} > 15)"
        return (
            f"(regexp_matches(trim({value}), '^.*[[:space:]].*$') or length(trim({value})) > 128)"
        )
