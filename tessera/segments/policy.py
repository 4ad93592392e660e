"""What a segment may read and call: relations, their keys, and the function allowlist.

Functions are named by sqlglot expression class (what `sqlglot.parse_one(sql, read="duckdb")`
builds), so an allowlisted name means the same on DuckDB and, after transpiling, Snowflake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlglot import exp

if TYPE_CHECKING:
    from tessera.segments.jinja import RelationResolver


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


SOURCE_DIALECT = "duckdb"
KEY_COLUMN = "person_id"

DEFAULT_ALLOWED_RELATIONS = frozenset(
    {
        "profiles.customer_profiles",
        "ml.person_scores",
        "ml.person_lifetime_value",  # BTYD traits per buyer (ml/lifetime.py)
        "ml.person_clusters",  # discovered segments (ml/clusters.py)
        "identity.persons",
        "identity.identity_graph",
    }
)
DEFAULT_ALLOWED_SCHEMAS = frozenset({"segments"})  # any relation in these schemas
DEFAULT_RELATION_KEYS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "profiles.customer_profiles": (("person_id",),),
    "ml.person_scores": (("person_id", "model"),),
    "ml.person_lifetime_value": (("person_id",),),
    "ml.person_clusters": (("person_id",),),
    "identity.persons": (("person_id",),),
    "identity.identity_graph": (("id_type", "id_value"),),
}

# sqlglot expression classes for functions that mean the same on DuckDB and Snowflake and
# can neither touch files, the network, settings nor the environment.
DEFAULT_ALLOWED_FUNCTIONS = _words(
    # aggregates
    "Count Sum Avg Min Max AnyValue ArgMax ArgMin Median Stddev StddevPop StddevSamp "
    "Variance VariancePop ApproxDistinct LogicalOr LogicalAnd CountIf PercentileCont "
    "PercentileDisc ArrayAgg "
    # window
    "RowNumber Rank DenseRank Ntile Lag Lead FirstValue LastValue PercentRank CumeDist "
    # math
    "Abs Round Floor Ceil Sqrt Pow Exp Ln Log Sign Greatest Least "
    # conditional and casts
    "Coalesce Nullif If Case Cast TryCast Exists "
    # strings
    "Lower Upper Trim Length Concat ConcatWs Substring Replace Left Right SplitPart "
    "StrPosition StartsWith Contains RegexpLike Initcap Pad MD5 SHA2 "
    # dates
    "CurrentDate CurrentTimestamp DateAdd DateSub DateDiff DateTrunc TimestampTrunc "
    "TimestampAdd TimestampSub TimestampDiff Extract Year Month Day DayOfWeek DayOfMonth "
    "DayOfYear Hour Minute Quarter Week LastDay DateFromParts Date "
    # JSON access and arrays (unnest only where a row's own list is flattened)
    "JSONExtract JSONExtractScalar Unnest Array ArraySize"
)

FILE_READING_FUNCTIONS = _words(
    "read_csv read_csv_auto read_parquet read_json read_json_auto read_json_objects "
    "read_ndjson read_ndjson_auto read_text read_blob read_xlsx glob parquet_scan "
    "parquet_metadata parquet_schema parquet_file_metadata csv_scan sniff_csv json_scan "
    "iceberg_scan delta_scan st_read sqlite_scan postgres_scan mysql_scan query "
    "query_table"
)
FUNCTION_HINTS = {
    "now": "use current_timestamp",
    "today": "use current_date",
    "getenv": "segments cannot read the environment",
    "current_setting": "segments cannot read warehouse settings",
    "dateadd": "use date_add(x, interval ...) or x + interval ...",
}

FORBIDDEN_STATEMENTS: dict[type[exp.Expression], str] = {
    exp.Create: "CREATE (DDL)",
    exp.Drop: "DROP (DDL)",
    exp.Alter: "ALTER (DDL)",
    exp.Insert: "INSERT (DML)",
    exp.Update: "UPDATE (DML)",
    exp.Delete: "DELETE (DML)",
    exp.Merge: "MERGE (DML)",
    exp.Copy: "COPY",
    exp.Attach: "ATTACH",
    exp.Detach: "DETACH",
    exp.Pragma: "PRAGMA",
    exp.Set: "SET",
    exp.Install: "INSTALL",
    exp.Use: "USE",
    exp.Transaction: "BEGIN TRANSACTION",
    exp.Commit: "COMMIT",
    exp.Rollback: "ROLLBACK",
    exp.Describe: "DESCRIBE",
    exp.Command: "command",
    exp.Into: "SELECT ... INTO (creates a table)",
}


@dataclass(frozen=True)
class ValidationPolicy:
    allowed_relations: frozenset[str] = DEFAULT_ALLOWED_RELATIONS
    allowed_schemas: frozenset[str] = DEFAULT_ALLOWED_SCHEMAS
    relation_keys: Mapping[str, tuple[tuple[str, ...], ...]] = field(
        default_factory=lambda: dict(DEFAULT_RELATION_KEYS)
    )
    allowed_functions: frozenset[str] = DEFAULT_ALLOWED_FUNCTIONS
    allowed_anonymous_functions: frozenset[str] = frozenset()
    # When the static analysis cannot prove one row per person_id: error, or warn and leave
    # it to check_unique at runtime.
    require_proven_uniqueness: bool = True

    @classmethod
    def from_project(cls, project_dir: Path) -> ValidationPolicy:
        """The readable relations and segments schema from dbt_project.yml's segments_* vars,
        which the dbt guard (macros/segments) and the DuckDB sandbox read too."""
        from tessera.segments.jinja import RelationResolver

        return cls.from_resolver(RelationResolver.from_project(project_dir))

    @classmethod
    def from_resolver(cls, resolver: RelationResolver) -> ValidationPolicy:
        return cls(
            allowed_relations=frozenset(resolver.readable),
            allowed_schemas=frozenset({resolver.segments_schema}),
        )

    def relation_allowed(self, relation: str) -> bool:
        schema = relation.split(".", 1)[0]
        return relation in self.allowed_relations or schema in self.allowed_schemas

    def keys_of(self, relation: str) -> tuple[tuple[str, ...], ...]:
        if relation in self.relation_keys:
            return self.relation_keys[relation]
        if relation.split(".", 1)[0] in self.allowed_schemas:
            return ((KEY_COLUMN,),)  # segments are one row per person_id by construction
        return ()


DEFAULT_POLICY = ValidationPolicy()
