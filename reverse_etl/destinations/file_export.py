"""File export: each acknowledged batch is one CSV, Parquet or JSONL file, written atomically.

`base_url` is a directory (`file:///abs/dir` or a plain path); option `format` picks the
file type. A batch counts as acknowledged once its file is fsynced and renamed into place,
so a crash leaves either a whole file or none.

Idempotency: every record carries `_event_id` (the webhook's: stable per version of a
row) and the file is named after its records' event ids, so the same batch written twice
lands in the same file; after a crash, rows in flight may appear in two files with the
same `_event_id`, which readers deduplicate on. Removals are records with `_operation`
`delete`, `suppress` or `erase` and no fields: files already written are the reader's to
clean.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from reverse_etl.config import ConfigError
from reverse_etl.destinations.base import (
    BaseDestination,
    Operation,
    PlanRow,
    RowResult,
    is_removal,
)
from reverse_etl.destinations.webhook import event_id

FORMATS = ("csv", "parquet", "jsonl")


class FileExport(BaseDestination):
    type = "file"
    modes = ("upsert", "update", "insert", "mirror", "add_remove")
    max_batch_size = 100_000
    unreadable_reason = "exported files belong to their readers; compare them there"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.format = str(self.config.options.get("format", "csv"))
        if self.format not in FORMATS:
            raise ConfigError(
                f"{self.config.source_file}: destination {self.name!r} field "
                f"`options.format`: {self.format!r} is not one of {', '.join(FORMATS)}"
            )
        base = self.config.base_url.removeprefix("file://")
        self.directory = Path(base) / self.sync.name
        self.directory.mkdir(parents=True, exist_ok=True)

    def send(self, rows: Sequence[PlanRow], operation: Operation) -> list[RowResult]:
        records = [
            {
                "_key": r.key,
                "_operation": operation,
                "_event_id": event_id(self.sync.name, r, operation),
                **({} if is_removal(operation) else r.fields),
            }
            for r in rows
        ]
        digest = hashlib.sha256(
            ",".join(sorted(record["_event_id"] for record in records)).encode()
        ).hexdigest()[:20]
        target = self.directory / f"{self.sync.object}-{operation}-{digest}.{self.format}"
        tmp = target.with_suffix(target.suffix + f".{os.getpid()}.partial")
        if self.format == "jsonl":
            with tmp.open("w") as fh:
                for record in records:
                    fh.write(json.dumps(record, default=str) + "\n")
        else:
            table = pa.Table.from_pylist(records)
            if self.format == "csv":
                pa_csv.write_csv(table, tmp)
            else:
                pq.write_table(table, tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        return [RowResult(r.key, True, dest_id=r.key) for r in rows]
