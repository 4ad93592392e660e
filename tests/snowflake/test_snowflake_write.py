"""Session.write_df on Snowflake (explicit DDL, Parquet PUT, COPY INTO by column name),
against the fakesnow server, and the Arrow -> Snowflake type mapping it relies on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from fakesnow_env import FakesnowServer, snowflake_settings

from tessera.snowflake_load import LoadError, column_ddl, snowflake_type
from tessera.warehouse import Session, Warehouse, WarehouseError

pytestmark = pytest.mark.snowflake


@pytest.fixture(scope="module")
def sf(
    fakesnow_server: FakesnowServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Session]:
    settings = snowflake_settings(fakesnow_server, tmp_path_factory.mktemp("sf_write"))
    with Warehouse(settings).session() as session:
        yield session


def test_arrow_types_map_to_snowflake_types() -> None:
    schema = pa.schema(
        [
            ("name", pa.string()),
            ("n", pa.int32()),
            ("amount", pa.float64()),
            ("price", pa.decimal128(12, 2)),
            ("ok", pa.bool_()),
            ("at", pa.timestamp("us")),
            ("at_utc", pa.timestamp("ns", tz="UTC")),
            ("day", pa.date32()),
            ("nothing", pa.null()),
        ]
    )
    assert column_ddl(schema) == (
        '"NAME" VARCHAR, "N" NUMBER(38,0), "AMOUNT" FLOAT, "PRICE" NUMBER(12,2), '
        '"OK" BOOLEAN, "AT" TIMESTAMP_NTZ, "AT_UTC" TIMESTAMP_TZ, "DAY" DATE, '
        '"NOTHING" VARCHAR'
    )
    with pytest.raises(LoadError, match="column 'tags' has Arrow type list<item: string>"):
        snowflake_type(pa.field("tags", pa.list_(pa.string())))
    with pytest.raises(LoadError, match="'order total' is not a plain identifier"):
        column_ddl(pa.schema([("order total", pa.float64())]))


def test_write_df_modes_round_trip(sf: Session) -> None:
    frame = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p'3"],
            "score": [0.25, None, 0.75],
            "decile": pd.array([1, 2, None], dtype="Int64"),
            "scored_at": pd.to_datetime(
                ["2026-11-01 10:00:00.123456", None, "2026-11-02 00:00:00.000000"]
            ),
            "is_known": [True, False, None],
            "cutoff": [date(2026, 11, 1)] * 3,
        }
    )
    assert sf.write_df(frame, "write_test", "scores", mode="create") == 3
    with pytest.raises(WarehouseError):
        sf.write_df(frame, "write_test", "scores", mode="create")
    back = sf.df("select * from write_test.scores order by person_id")
    assert back.person_id.tolist() == ["p'3", "p1", "p2"]
    assert back.score.isna().tolist() == [False, False, True]
    assert back.scored_at[1] == pd.Timestamp("2026-11-01 10:00:00.123456")
    assert back.is_known.tolist()[1:] == [True, False]
    assert dict(sf.columns("write_test", "scores"))["cutoff"].upper() == "DATE"

    # append loads by column name: other order, a missing column stays null
    more = pa.table({"score": [0.5], "person_id": ["p4"]})
    assert sf.write_df(more, "write_test", "scores", mode="append") == 1
    assert sf.scalar("select count(*) from write_test.scores where decile is null") == 2
    assert sf.scalar("select score from write_test.scores where person_id = 'p4'") == 0.5

    assert sf.write_df(more, "write_test", "scores", mode="replace") == 1
    assert sf.scalar("select count(*) from write_test.scores") == 1
    assert [c for c, _ in sf.columns("write_test", "scores")] == ["score", "person_id"]


def test_write_df_creates_empty_tables_and_keeps_tz(sf: Session) -> None:
    empty = pa.table({"person_id": pa.array([], pa.string())})
    assert sf.write_df(empty, "write_test", "empty", mode="replace") == 0
    assert sf.table_exists("write_test", "empty")
    moment = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
    stamped = pa.table(
        {
            "seen_at": pa.array([moment], pa.timestamp("us", tz="UTC")),
            "group": ["vip"],  # a reserved word: the DDL quotes the upper-cased name
        }
    )
    sf.write_df(stamped, "write_test", "stamped", mode="replace")
    seen_at = sf.scalar("select seen_at from write_test.stamped")
    assert pd.Timestamp(seen_at) == pd.Timestamp(moment)
    assert sf.scalar('select "GROUP" from write_test.stamped') == "vip"


def test_write_df_streams_a_larger_frame_in_one_copy(sf: Session, tmp_path: Path) -> None:
    n = 50_000
    table = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "amount": pa.array([Decimal(i) / 100 for i in range(n)], pa.decimal128(12, 2)),
        }
    )
    assert sf.write_df(table, "write_test", "big", mode="replace") == n
    assert sf.scalar("select count(distinct id) from write_test.big") == n
    # each decimal arrives exact (fakesnow returns decimal aggregates as floats: compare rows)
    assert sf.scalar("select count(*) from write_test.big where amount * 100 <> id") == 0


def test_bad_frames_fail_with_the_column_named(sf: Session) -> None:
    with pytest.raises(WarehouseError, match="column 'tags'"):
        sf.write_df(pa.table({"tags": [["a"]]}), "write_test", "bad", mode="replace")
    with pytest.raises(WarehouseError, match="table 'bad-name'"):
        sf.write_df(pa.table({"x": [1]}), "write_test", "bad-name", mode="replace")
