"""segment_membership and segment_sizes across refreshes, and the size chart."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tessera.segments.chart import plot_segment_sizes
from tessera.segments.membership import (
    MembershipError,
    current_members,
    entered_since,
    refresh_membership,
    size_history,
)
from tessera.warehouse import Session, Warehouse

T1 = datetime(2026, 11, 20, 8, 0)
T2 = datetime(2026, 11, 21, 8, 0)
T3 = datetime(2026, 11, 22, 8, 0)


def rebuild(session: Session, table: str, person_ids: list[str]) -> None:
    """Stand-in for dbt rebuilding a segment table."""
    values = ", ".join(f"('{p}')" for p in person_ids) or "(null)"
    session.execute(
        f"create or replace table segments.{table} as "
        f"select person_id from (values {values}) as t(person_id)"
    )


def membership_rows(session: Session, segment: str) -> list[tuple]:
    df = session.df(
        "select person_id, entered_at, exited_at from segments.segment_membership "
        "where segment = ? order by person_id, entered_at",
        [segment],
    )
    return [
        (
            r.person_id,
            r.entered_at.to_pydatetime(),
            None
            if r.exited_at is None or str(r.exited_at) == "NaT"
            else r.exited_at.to_pydatetime(),
        )
        for r in df.itertuples()
    ]


def test_entered_exited_and_reentered_across_three_refreshes(warehouse: Warehouse) -> None:
    with warehouse.session() as session:
        rebuild(session, "vips", ["a", "b", "c"])
        rebuild(session, "lapsed", ["x"])
        [first, _] = refresh_membership(session, ["vips", "lapsed"], measured_at=T1)
        assert (first.entered, first.exited, first.size) == (3, 0, 3)

        rebuild(session, "vips", ["b", "c", "d"])
        [second] = refresh_membership(session, ["vips"], measured_at=T2)
        assert (second.entered, second.exited, second.size) == (1, 1, 3)

        rebuild(session, "vips", ["a", "c", "d", "d"])  # a comes back; duplicates ignored
        [third] = refresh_membership(session, ["vips"], measured_at=T3)
        assert (third.entered, third.exited, third.size) == (1, 1, 3)

        assert membership_rows(session, "vips") == [
            ("a", T1, T2),
            ("a", T3, None),
            ("b", T1, T3),
            ("c", T1, None),
            ("d", T2, None),
        ]
        assert membership_rows(session, "lapsed") == [("x", T1, None)]  # untouched
        assert list(current_members(session, "vips")["person_id"]) == ["a", "c", "d"]
        entered_today = entered_since(session, "vips", datetime(2026, 11, 22))
        assert list(entered_today["person_id"]) == ["a"]

        history = size_history(session, ["vips"])
        assert list(history["size"]) == [3, 3, 3]
        assert [t.to_pydatetime() for t in history["measured_at"]] == [T1, T2, T3]


def test_a_refresh_with_no_change_writes_no_membership_rows(warehouse: Warehouse) -> None:
    with warehouse.session() as session:
        rebuild(session, "vips", ["a", "b"])
        refresh_membership(session, ["vips"], measured_at=T1)
        [again] = refresh_membership(session, ["vips"], measured_at=T2)
        assert (again.entered, again.exited) == (0, 0)
        assert session.scalar("select count(*) from segments.segment_membership") == 2
        assert session.scalar("select count(*) from segments.segment_sizes") == 2


def test_emptied_segment_closes_every_open_row(warehouse: Warehouse) -> None:
    with warehouse.session() as session:
        rebuild(session, "vips", ["a", "b"])
        refresh_membership(session, ["vips"], measured_at=T1)
        rebuild(session, "vips", [])
        [change] = refresh_membership(session, ["vips"], measured_at=T2)
        assert (change.entered, change.exited, change.size) == (0, 2, 0)
        assert current_members(session, "vips").empty


def test_unbuilt_or_badly_named_segments_are_refused(warehouse: Warehouse) -> None:
    with warehouse.session() as session:
        with pytest.raises(MembershipError, match="not built"):
            refresh_membership(session, ["never_built"])
        with pytest.raises(MembershipError, match="not a valid segment name"):
            refresh_membership(session, ["vips; drop table x"])


def test_size_chart_is_a_png(warehouse: Warehouse, tmp_path: Path) -> None:
    with warehouse.session() as session:
        for moment, members in ((T1, ["a"]), (T2, ["a", "b"]), (T3, ["a", "b", "c"])):
            rebuild(session, "vips", members)
            rebuild(session, "lapsed", members[:1])
            refresh_membership(session, ["vips", "lapsed"], measured_at=moment)
        history = size_history(session)
    path = plot_segment_sizes(history, tmp_path / "chart" / "sizes.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000
    with pytest.raises(ValueError, match="no segment size history"):
        plot_segment_sizes(history.iloc[0:0], tmp_path / "empty.png")
