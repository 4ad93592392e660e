"""Segment discovery from models/segments/*.sql and their dbt YAML meta."""

from __future__ import annotations

from pathlib import Path

import pytest

from tessera.segments.catalog import CatalogError, load_catalog
from tessera.segments.checks import check_catalog
from tessera.segments.scaffold import ScaffoldError, scaffold_segment
from tessera.warehouse import Session

GOOD_YAML = """\
version: 2
models:
  - name: vips
    description: Top CLV quintile with email consent.
    config:
      tags: [retention, vip]
      meta:
        owner: crm-team@example.com
        refresh: hourly
        syncs: [hubspot_vips, braze_vips]
"""


def write(directory: Path, name: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text)


def test_segments_are_discovered_with_their_meta(tmp_path: Path) -> None:
    write(tmp_path, "vips.sql", "select person_id from {{ ref('customer_profiles') }}")
    write(tmp_path, "vips.yml", GOOD_YAML)
    catalog = load_catalog(tmp_path)
    vips = catalog.get("vips")
    assert catalog.names() == ["vips"]
    assert vips.owner == "crm-team@example.com"
    assert vips.refresh == "hourly"
    assert vips.syncs == ["hubspot_vips", "braze_vips"]
    assert vips.tags == ["retention", "vip"]
    assert vips.description == "Top CLV quintile with email consent."
    assert "ref('customer_profiles')" in vips.read_sql()


def test_top_level_meta_of_older_dbt_files_is_read(tmp_path: Path) -> None:
    write(tmp_path, "vips.sql", "select 1")
    write(
        tmp_path,
        "vips.yml",
        "version: 2\nmodels:\n  - name: vips\n    description: d\n"
        "    meta: {owner: me, refresh: daily}\n",
    )
    assert load_catalog(tmp_path).get("vips").owner == "me"


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        pytest.param(
            "version: 2\nmodels:\n  - name: vips\n    description: [unclosed\n",
            "vips.yml (line 5, column 1): not valid YAML: expected ',' or ']'",
            id="malformed_yaml",
        ),
        pytest.param(  # PyYAML keeps the last silently: the owner would be the second one
            GOOD_YAML.replace(
                "        owner: crm-team@example.com\n",
                "        owner: crm-team@example.com\n        owner: someone@example.com\n",
            ),
            "not valid YAML: key 'owner' appears twice in one mapping",
            id="key_twice",
        ),
        pytest.param(  # was a bare ValueError, no file or line
            GOOD_YAML.replace("refresh: hourly", "refresh: 2026-02-30"),
            "not valid YAML: '2026-02-30' is not a date (day is out of range for month)",
            id="impossible_date",
        ),
        pytest.param(
            GOOD_YAML.replace("        owner: crm-team@example.com\n", ""),
            "vips.config.meta.owner: Field required",
            id="missing_owner",
        ),
        pytest.param(
            GOOD_YAML.replace("refresh: hourly", "refresh: sometimes"),
            "refresh 'sometimes' is not a cadence",
            id="bad_cadence",
        ),
        pytest.param(
            GOOD_YAML.replace("syncs: [hubspot_vips, braze_vips]", "syncs: hubspot"),
            "vips.config.meta.syncs: Input should be a valid list",
            id="syncs_not_a_list",
        ),
        pytest.param(
            GOOD_YAML.replace("    description: Top CLV quintile with email consent.\n", ""),
            "vips.description",
            id="missing_description",
        ),
        pytest.param("just a string\n", "expected a top-level 'models:' list", id="not_dbt"),
        pytest.param("", "file is empty", id="empty"),
    ],
)
def test_malformed_metadata_is_reported_with_file_and_field(
    tmp_path: Path, yaml_text: str, expected: str
) -> None:
    write(tmp_path, "vips.sql", "select 1")
    write(tmp_path, "vips.yml", yaml_text)
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    assert expected in str(caught.value)


def test_sql_without_yaml_and_yaml_without_sql_are_both_reported(tmp_path: Path) -> None:
    write(tmp_path, "orphan.sql", "select 1")
    write(tmp_path, "vips.yml", GOOD_YAML)
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    problems = caught.value.problems
    assert any("orphan.sql (line 1, column 1): no YAML metadata" in p for p in problems)
    assert any("describes 'vips' but there is no vips.sql" in p for p in problems)


def test_reserved_and_badly_named_segments_are_rejected(tmp_path: Path) -> None:
    write(tmp_path, "segment_membership.sql", "select 1")
    write(tmp_path, "Bad-Name.sql", "select 1")
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    message = str(caught.value)
    assert "reserved" in message and "Bad-Name.sql" in message


def test_unknown_segment_name_lists_the_known_ones(tmp_path: Path) -> None:
    write(tmp_path, "vips.sql", "select 1")
    write(tmp_path, "vips.yml", GOOD_YAML)
    with pytest.raises(CatalogError, match="known: vips"):
        load_catalog(tmp_path).get("nope")


def test_scaffold_creates_a_segment_the_catalog_accepts(tmp_path: Path) -> None:
    created = scaffold_segment(tmp_path, "welcome_series", owner="growth", refresh="hourly")
    catalog = load_catalog(tmp_path)
    segment = catalog.get("welcome_series")
    assert segment.sql_path == created.sql_path
    assert segment.owner == "growth" and segment.refresh == "hourly"
    with pytest.raises(ScaffoldError, match="already exists"):
        scaffold_segment(tmp_path, "welcome_series")
    with pytest.raises(ScaffoldError, match="not a segment name"):
        scaffold_segment(tmp_path, "Drop Table")


def test_scaffold_refuses_the_name_of_a_model_of_the_project(tmp_path: Path) -> None:
    """`segments new customer_profiles` was accepted, and then no segment built: dbt needs
    model names unique in a project."""
    marts = tmp_path / "models" / "profiles"
    marts.mkdir(parents=True)
    (marts / "customer_profiles.sql").write_text("select 1 as person_id")
    segments = tmp_path / "models" / "segments"
    with pytest.raises(ScaffoldError, match=r"already the name of a model \(models/profiles/"):
        scaffold_segment(segments, "customer_profiles")
    assert not segments.exists() or list(segments.iterdir()) == []
    scaffold_segment(segments, "customer_profiles_gb")


def test_a_segment_reading_an_unbuilt_segment_is_checked_after_it(
    tmp_path: Path, session: Session
) -> None:
    segments = tmp_path / "models" / "segments"
    scaffold_segment(segments, "gb_vips")
    scaffold_segment(segments, "gb_vips_with_sms")
    (segments / "gb_vips.sql").write_text(
        "select person_id, email, phone from {{ ref('customer_profiles') }}\n"
        "where country = 'GB' and clv_quintile = 5"
    )
    (segments / "gb_vips_with_sms.sql").write_text(
        "select v.person_id, v.phone from {{ ref('gb_vips') }} v\n"
        "join {{ ref('customer_profiles') }} p on p.person_id = v.person_id\n"
        "where p.consent_sms and v.nope is null"
    )
    [report] = check_catalog(
        load_catalog(segments), tmp_path, ["gb_vips_with_sms"], columns_from=session
    )
    assert [i.code for i in report.errors] == ["unknown_column"]
    assert "v.nope does not exist in segments.gb_vips" in report.errors[0].message
