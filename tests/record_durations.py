"""Write tests/file_durations.json from a JUnit XML report of a whole-suite run.

    .venv/bin/python -m pytest -n 2 --dist loadfile --junitxml=/tmp/junit.xml
    .venv/bin/python -m tests.record_durations /tmp/junit.xml

conftest.py hands the files to the two workers longest first (see there), so a minutes-long
file of one or two tests does not start last while the other worker sits idle. Seconds per
file, setup and teardown included; approximate, re-record when the suite's shape changes.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

DURATIONS = Path(__file__).with_name("file_durations.json")


def file_seconds(junit_xml: Path) -> dict[str, int]:
    seconds: Counter[str] = Counter()
    for case in ET.parse(junit_xml).getroot().iter("testcase"):
        module = case.get("classname", "")
        if module.startswith("tests."):
            seconds[module.replace(".", "/") + ".py"] += float(case.get("time") or 0)
    return {name: round(total) for name, total in sorted(seconds.items()) if round(total) > 0}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    DURATIONS.write_text(json.dumps(file_seconds(Path(argv[0])), indent=1) + "\n")
    print(f"wrote {DURATIONS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
