"""`tessera segments new NAME`: write a starter segment SQL and its YAML metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tessera.segments.catalog import REFRESH_CADENCE, RESERVED_NAMES, SEGMENT_NAME


class ScaffoldError(ValueError):
    """The new segment's name or options are not acceptable, or its files already exist."""


SQL_TEMPLATE = """\
-- {description}
with profiles as (

    select * from {{{{ ref('customer_profiles') }}}}

),

final as (

    select
        person_id,
        email,
        first_name,
        country,
        lifecycle_stage
    from profiles
    where consent_email

)

select * from final
"""

YAML_TEMPLATE = """\
version: 2

models:
  - name: {name}
    description: >
      {description}
    config:
      tags: ["segment"]
      meta:
        owner: {owner}
        refresh: {refresh}
        syncs: []
    columns:
      - name: person_id
        description: The person in the segment (identity.persons.person_id).
        data_tests:
          - unique
          - not_null
"""


@dataclass(frozen=True)
class ScaffoldedSegment:
    sql_path: Path
    yml_path: Path


def scaffold_segment(
    directory: Path,
    name: str,
    owner: str = "data-team",
    description: str | None = None,
    refresh: str = "daily",
) -> ScaffoldedSegment:
    if not SEGMENT_NAME.match(name):
        raise ScaffoldError(
            f"{name!r} is not a segment name: use lower-case letters, digits and _, "
            "starting with a letter (at most 63 characters)"
        )
    if name in RESERVED_NAMES:
        raise ScaffoldError(f"{name!r} is reserved for Tessera's own table")
    if not REFRESH_CADENCE.match(refresh):
        raise ScaffoldError(f"refresh {refresh!r} is not a cadence (15m, 2h, hourly, daily ...)")
    if not owner.strip() or any(c in owner for c in "\n:#{}[]"):
        raise ScaffoldError("owner must be a plain name or e-mail address")
    description = (description or f"Persons in the {name.replace('_', ' ')} segment.").strip()
    description = " ".join(description.split())
    jinja = [mark for mark in ("{{", "{%", "{#") if mark in description]
    if jinja:
        # the gate refuses Jinja in a segment's YAML (and dbt would render it)
        raise ScaffoldError(
            f"description must not contain Jinja ({', '.join(jinja)}): segment files "
            "may not hold Jinja beyond ref(), source() and var()"
        )
    sql_path = directory / f"{name}.sql"
    yml_path = directory / f"{name}.yml"
    existing = [p.name for p in (sql_path, yml_path) if p.exists()]
    if existing:
        raise ScaffoldError(f"segment {name!r} already exists: {', '.join(existing)}")
    models = next((d for d in (directory, *directory.parents) if d.name == "models"), None)
    if models is not None and models.is_dir():
        clash = sorted(
            str(p.relative_to(models.parent))
            for p in models.rglob(f"{name}.*")
            if p.suffix in (".sql", ".py") and p != sql_path
        )
        if clash:
            # dbt needs model names unique in a project: every segment would stop building
            raise ScaffoldError(
                f"{name!r} is already the name of a model ({', '.join(clash)}); "
                "choose another segment name"
            )
    directory.mkdir(parents=True, exist_ok=True)
    sql_path.write_text(SQL_TEMPLATE.format(description=description))
    yml_path.write_text(
        YAML_TEMPLATE.format(name=name, description=description, owner=owner, refresh=refresh)
    )
    return ScaffoldedSegment(sql_path=sql_path, yml_path=yml_path)
