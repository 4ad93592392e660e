"""Run plain `dbt build` once per case in one process (dbt's own programmatic CLI), so a
battery of cases that dbt refuses at parse does not pay dbt's start-up for each.

Usage: python dbt_builds.py SPEC.json OUT.json, where SPEC holds the project, the folder to
copy as models/segments first, and per case the files to add. A case that dbt parses
builds the whole project, as a plain `dbt build` would.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from dbt.cli.main import dbtRunner


def main(spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    project = Path(spec["project"])
    folder = project / "models" / "segments"
    results = {}
    args = ["--project-dir", str(project), "--profiles-dir", str(project), "--quiet"]
    # One successful parse first: dbt saves it (target/partial_parse.msgpack) and every case
    # after it re-parses only the files it changed, instead of the whole project.
    shutil.rmtree(folder)
    shutil.copytree(spec["starters"], folder)
    dbtRunner().invoke(["parse", *args])
    for case in spec["cases"]:
        shutil.rmtree(folder)
        shutil.copytree(spec["starters"], folder)
        for name, text in case["files"].items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
        result = dbtRunner().invoke(["build", *args])
        results[case["id"]] = {"success": result.success, "error": str(result.exception or "")}
    shutil.rmtree(folder)
    shutil.copytree(spec["starters"], folder)
    Path(out_path).write_text(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
