"""Read ml_features / ml_labels through the warehouse client and shape them for LightGBM.

The feature list is never hard-coded: every column of ml_features except the keys is a
feature. VARCHAR columns become pandas categoricals (LightGBM splits on them natively);
numeric and boolean columns become float64 (nulls -> NaN, which LightGBM routes natively);
date and timestamp columns cannot be model inputs and are listed as ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ml.config import MLConfig, ModelSpec
from ml.errors import MLError
from tessera.warehouse import Session

TEXT_TYPES = ("VARCHAR", "TEXT", "STRING", "CHAR", "CHARACTER")
TEMPORAL_TYPES = ("DATE", "TIME", "TIMESTAMP", "INTERVAL")
NUMERIC_TYPES = (
    "TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "REAL", "DOUBLE", "DECIMAL", "NUMBER",
    "NUMERIC", "BOOLEAN", "BYTEINT",
)  # fmt: skip


@dataclass(frozen=True)
class FeatureSchema:
    """Feature columns of ml_features in table order, split by kind, then the features ml/
    derives itself (`derived`, numeric: the BTYD features), last."""

    features: tuple[str, ...]
    categorical: tuple[str, ...]
    ignored: dict[str, str] = field(default_factory=dict)
    derived: tuple[str, ...] = ()

    @property
    def numeric(self) -> tuple[str, ...]:
        return tuple(f for f in self.features if f not in self.categorical)

    @property
    def table_features(self) -> tuple[str, ...]:
        return tuple(f for f in self.features if f not in self.derived)

    def with_derived(self, names: Sequence[str]) -> FeatureSchema:
        extra = tuple(n for n in names if n not in self.features)
        return FeatureSchema(
            (*self.features, *extra), self.categorical, self.ignored, (*self.derived, *extra)
        )


@dataclass(frozen=True)
class LabelSpec:
    """What a model learns: a SQL expression over ml_labels `l` (and ml_features `f`),
    either the task's own column or a shorter window derived from days_to_next_purchase."""

    name: str
    expression: str
    horizon_days: int
    from_task_column: bool = True

    @classmethod
    def of_task(cls, spec: ModelSpec) -> LabelSpec:
        return cls(spec.name, f"l.{spec.name}", spec.horizon_days, True)

    @classmethod
    def window(cls, spec: ModelSpec, days: int) -> LabelSpec:
        """The task's outcome over `days` instead of its horizon (purchase or churn only),
        in the task's population: labelled where the window is complete."""
        if spec.outcome not in ("purchase", "churn"):
            raise MLError(f"{spec.name}: a {spec.outcome} task has no shorter-window label")
        bought = f"coalesce(l.days_to_next_purchase < {days}, false)"
        yes, no = (1, 0) if spec.outcome == "purchase" else (0, 1)
        population = f" and ({spec.score_population})" if spec.score_population else ""
        expression = (
            f"case when l.observed_days >= {days}{population} "
            f"then case when {bought} then {yes} else {no} end end"
        )
        return cls(f"{spec.name}_{days}d_window", expression, days, False)


@dataclass(frozen=True)
class CutoffStats:
    cutoff: date
    rows: int
    positives: int


def _base_type(data_type: str) -> str:
    return data_type.upper().split("(")[0].strip()


def placeholder(session: Session) -> str:
    return "?" if session.dialect == "duckdb" else "%s"


def require_table(session: Session, schema: str, table: str, hint: str) -> None:
    if not session.table_exists(schema, table):
        raise MLError(f"table {schema}.{table} does not exist. {hint}")


def read_feature_schema(session: Session, config: MLConfig) -> FeatureSchema:
    """Discover the feature columns of ml_features from the warehouse's catalog."""
    require_table(
        session,
        config.features_schema,
        config.features_table,
        "Build the feature models first: `tessera build --select features`.",
    )
    columns = session.columns(config.features_schema, config.features_table)
    names = [name for name, _ in columns]
    missing_keys = [k for k in config.key_columns if k not in names]
    if missing_keys:
        raise MLError(
            f"{config.features_relation} lacks key column(s) {', '.join(missing_keys)}; "
            f"the features contract needs {', '.join(config.key_columns)}"
        )
    features: list[str] = []
    categorical: list[str] = []
    ignored: dict[str, str] = {}
    for name, data_type in columns:
        if name in config.key_columns:
            continue
        kind = _base_type(data_type)
        if kind in TEXT_TYPES:
            features.append(name)
            categorical.append(name)
        elif kind in NUMERIC_TYPES:
            features.append(name)
        elif kind.startswith(TEMPORAL_TYPES):
            ignored[name] = f"{data_type} is not a model input (derive a number of days)"
        else:
            ignored[name] = f"unsupported type {data_type}"
    if not features:
        raise MLError(f"{config.features_relation} has no feature columns besides the keys")
    return FeatureSchema(tuple(features), tuple(categorical), ignored)


def require_rows(session: Session, config: MLConfig) -> None:
    if not session.scalar(f"select count(*) from {config.features_relation}"):
        raise MLError(
            f"{config.features_relation} is empty: no persons to learn from or score. Check "
            "that raw data was loaded and `tessera build` built identity, profiles and features."
        )


def labelled_cutoffs(
    session: Session, config: MLConfig, spec: ModelSpec, label: LabelSpec | None = None
) -> list[CutoffStats]:
    """Cutoffs with a known label, oldest first, with row and positive counts."""
    label = label or LabelSpec.of_task(spec)
    require_table(
        session,
        config.features_schema,
        config.labels_table,
        "Build the label model first: `tessera build --select features`.",
    )
    label_columns = [
        name for name, _ in session.columns(config.features_schema, config.labels_table)
    ]
    needed = [spec.label] if label.from_task_column else ["observed_days", "days_to_next_purchase"]
    missing = [c for c in needed if c not in label_columns]
    if missing:
        found = ", ".join(c for c in label_columns if c not in config.key_columns)
        raise MLError(
            f"{config.labels_relation} has no column {', '.join(map(repr, missing))} (task "
            f"{spec.name}); columns found: {found or 'none'}. The labels are built from the "
            "dbt var prediction_tasks: rebuild them (`tessera build --select features`)."
        )
    rows = session.df(
        f"select cast(l.cutoff_date as date) as cutoff_date, count(*) as n_rows, "
        f"sum(cast({label.expression} as double)) as positives "
        f"from {config.labels_relation} l "
        f"join {config.features_relation} f "
        f"on f.person_id = l.person_id and f.cutoff_date = l.cutoff_date "
        f"where ({label.expression}) is not null group by 1 order by 1"
    )
    return [
        CutoffStats(_as_date(r.cutoff_date), int(r.n_rows), int(round(r.positives or 0)))
        for r in rows.itertuples(index=False)
    ]


def latest_feature_cutoff(session: Session, config: MLConfig) -> date:
    value = session.scalar(f"select max(cutoff_date) from {config.features_relation}")
    if value is None:
        require_rows(session, config)
    return _as_date(value)


def _as_date(value: object) -> date:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).date()
    if isinstance(value, date):
        return value if type(value) is date else value.date()  # datetime -> date
    return date.fromisoformat(str(value)[:10])


def select_features_sql(
    config: MLConfig,
    schema: FeatureSchema,
    cutoffs: Sequence[date],
    label: LabelSpec | None,
    ph: str,
    population: str | None = None,
) -> str:
    """Features and one label for the given cutoffs, in a stable row order; without a label,
    the features of the persons matching `population` (a condition on ml_features)."""
    cols = ", ".join(f"f.{c}" for c in ("person_id", "cutoff_date", *schema.table_features))
    in_list = ", ".join(f"cast({ph} as date)" for _ in cutoffs)
    if label is None:
        where = f"f.cutoff_date in ({in_list})" + (f" and ({population})" if population else "")
        return f"select {cols} from {config.features_relation} f where {where}"
    return (
        f"select {cols}, cast({label.expression} as double) as label_value "
        f"from {config.features_relation} f join {config.labels_relation} l "
        f"on f.person_id = l.person_id and f.cutoff_date = l.cutoff_date "
        f"where ({label.expression}) is not null and f.cutoff_date in ({in_list}) "
        f"order by f.cutoff_date, f.person_id"
    )


@dataclass
class LabelledData:
    """Feature frame, label and row keys for a set of cutoffs."""

    frame: pd.DataFrame  # feature columns only, prepared for LightGBM
    label: np.ndarray
    cutoff: np.ndarray  # datetime64[D] per row
    person_id: pa.ChunkedArray

    def __len__(self) -> int:
        return len(self.label)


def load_labelled(
    session: Session,
    config: MLConfig,
    schema: FeatureSchema,
    spec: ModelSpec,
    cutoffs: Sequence[date],
    label_spec: LabelSpec | None = None,
) -> LabelledData:
    label_spec = label_spec or LabelSpec.of_task(spec)
    sql = select_features_sql(config, schema, cutoffs, label_spec, placeholder(session))
    table = session.arrow(sql, [c.isoformat() for c in cutoffs])
    label = table.column("label_value").to_numpy(zero_copy_only=False).astype(np.int8)
    cutoff = (table.column("cutoff_date").cast(pa.date32()).to_numpy(zero_copy_only=False)).astype(
        "datetime64[D]"
    )
    return LabelledData(
        frame=arrow_to_features(table, schema),
        label=label,
        cutoff=cutoff,
        person_id=table.column("person_id"),
    )


def arrow_to_features(
    table: pa.Table | pa.RecordBatch,
    schema: FeatureSchema,
    categories: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """Feature columns as float64 / categorical, in the schema's order.

    With `categories`, categorical columns use exactly those levels (unseen values -> NaN),
    so codes line up with what the booster was trained on.
    """
    data: dict[str, object] = {}
    for name in schema.features:
        if name in schema.derived:
            data[name] = np.full(table.num_rows, np.nan)  # filled by the caller (BTYD)
            continue
        column = table.column(name)
        if name in schema.categorical:
            values = column.cast(pa.string()).to_pandas()
            if categories is None:
                data[name] = values.astype("category")
            else:
                data[name] = pd.Categorical(values, categories=categories.get(name, []))
        else:
            if pa.types.is_boolean(column.type):
                column = pc.cast(column, pa.int8())
            data[name] = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return pd.DataFrame(data, copy=False)  # one block per column: no consolidation copy


def fit_categories(frame: pd.DataFrame, schema: FeatureSchema) -> dict[str, list[str]]:
    """Levels seen in training, sorted, per categorical feature."""
    return {
        name: sorted(str(v) for v in frame[name].dropna().unique()) for name in schema.categorical
    }


def apply_categories(frame: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    out = frame.copy()
    for name, levels in categories.items():
        out[name] = pd.Categorical(frame[name].astype(object), categories=levels)
    return out


def arrow_to_matrix(
    table: pa.Table | pa.RecordBatch,
    schema: FeatureSchema,
    categories: dict[str, list[str]],
) -> tuple[np.ndarray, np.ndarray]:
    """The booster's input as a float matrix, built in Arrow without pandas (for scoring).

    Categorical columns hold the index of the value in the training categories, which is
    exactly how LightGBM encodes a pandas categorical; nulls and values unseen in training
    are NaN. The second array flags the unseen ones (True), so reasons can tell them apart.
    """
    n_rows = table.num_rows
    matrix = np.empty((n_rows, len(schema.features)), dtype=np.float64)
    unseen = np.zeros((n_rows, len(schema.features)), dtype=bool)
    categorical = set(schema.categorical)
    for j, name in enumerate(schema.features):
        if name in schema.derived:
            matrix[:, j] = np.nan  # filled by the caller (BTYD)
            continue
        column = table.column(name)
        if name in categorical:
            text = column.cast(pa.string())
            index = pc.index_in(text, value_set=pa.array(categories.get(name, []), pa.string()))
            codes = index.cast(pa.float64()).to_numpy(zero_copy_only=False)
            matrix[:, j] = codes
            unseen[:, j] = np.isnan(codes) & ~pc.is_null(text).to_numpy(zero_copy_only=False)
        else:
            if pa.types.is_boolean(column.type):
                column = pc.cast(column, pa.int8())
            matrix[:, j] = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return matrix, unseen
