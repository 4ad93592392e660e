"""What a YAML file in models/segments may say: describe and test its segments, nothing more.

dbt reads every YAML file under models/ for sources, seeds, macros, unit tests, exposures,
other models' properties, configs with hooks and SQL-bearing test arguments; a file in the
segments folder could use any of them to reach beyond its table. So these files hold only
`version` and `models`, each model is a segment of this folder, its config holds only tags,
meta, docs and enabled, and its tests are unique, not_null, accepted_values and relationships
with plain arguments. Every refusal carries the key's line and column. The project's dbt
guard (macros/segments/guard.sql) refuses the same things inside dbt.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_YAML_CHARS = 200_000
MAX_FLOW_DEPTH = 20
TOP_LEVEL_KEYS = frozenset({"version", "models"})
MODEL_KEYS = frozenset(
    {"name", "description", "config", "columns", "data_tests", "tests", "meta", "tags", "docs"}
)
CONFIG_KEYS = frozenset({"tags", "meta", "docs", "enabled"})
COLUMN_KEYS = frozenset(
    {"name", "description", "data_tests", "tests", "meta", "tags", "data_type", "quote"}
)
TESTS = frozenset({"unique", "not_null", "accepted_values", "relationships"})
TEST_ARGUMENT_KEYS = {
    "unique": frozenset(),
    "not_null": frozenset(),
    "accepted_values": frozenset({"values", "quote"}),
    "relationships": frozenset({"to", "field"}),
}
TEST_CONFIG_KEYS = frozenset({"severity", "tags", "meta", "enabled"})
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_ .@:+/-]*$")
_REF = re.compile(r"""^ref\((['"])([A-Za-z_][A-Za-z0-9_]*)\1\)$""")


def _flow_too_deep(text: str) -> tuple[int, int] | None:
    """Line and column where [ or { brackets first nest deeper than MAX_FLOW_DEPTH (quotes
    and comments are not told apart: a false alarm needs 20 brackets in a string)."""
    depth, line, column = 0, 1, 0
    for char in text:
        column += 1
        if char == "\n":
            line, column = line + 1, 0
        elif char in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                return line, column
        elif char in "]}" and depth:
            depth -= 1
    return None


@dataclass(frozen=True)
class YamlProblem:
    message: str
    line: int
    column: int


def check_segment_yaml(
    text: str,
    segment_names: frozenset[str],
    readable_models: frozenset[str],
    syncs_file: bool = False,
) -> list[YamlProblem]:
    """Problems in one YAML file of the segments folder (empty: it only describes segments).

    A `*.syncs.yml` file (reverse-ETL syncs, which reverse_etl validates) may hold only
    `version` and `syncs`; dbt reads no node from it."""
    if len(text) > MAX_YAML_CHARS:
        return [YamlProblem(f"the file is over {MAX_YAML_CHARS:,} characters", 1, 1)]
    too_deep = _flow_too_deep(text)
    if too_deep is not None:
        return [YamlProblem(f"brackets nest more than {MAX_FLOW_DEPTH} deep", *too_deep)]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return [YamlProblem(f"malformed YAML: {problem}", line, column)]
    except RecursionError:
        return [YamlProblem("the YAML nests too deeply", 1, 1)]
    checker = _YamlChecker(segment_names, readable_models)
    if root is None:
        return [YamlProblem("the file is empty", 1, 1)]
    if syncs_file:
        checker.check_syncs_root(root)
    else:
        checker.check_root(root)
    return checker.problems


class _YamlChecker:
    def __init__(self, segment_names: frozenset[str], readable_models: frozenset[str]) -> None:
        self.segment_names = segment_names
        self.readable_models = readable_models
        self.problems: list[YamlProblem] = []

    def add(self, node: Node, message: str) -> None:
        self.problems.append(
            YamlProblem(message, node.start_mark.line + 1, node.start_mark.column + 1)
        )

    def check_root(self, root: Node) -> None:
        if not isinstance(root, MappingNode):
            self.add(root, "expected a mapping with 'version' and 'models'")
            return
        self._no_jinja(root)
        for key, value in self._items(root, TOP_LEVEL_KEYS, "a YAML file in models/segments"):
            if key == "models":
                if not isinstance(value, SequenceNode):
                    self.add(value, "'models' must be a list")
                    continue
                for entry in value.value:
                    self.check_model(entry)

    def check_syncs_root(self, root: Node) -> None:
        if not isinstance(root, MappingNode):
            self.add(root, "expected a mapping with 'syncs'")
            return
        self._no_jinja(root)
        for _ in self._items(root, frozenset({"version", "syncs"}), "a *.syncs.yml file"):
            pass

    def check_model(self, node: Node) -> None:
        if not isinstance(node, MappingNode):
            self.add(node, "each entry of 'models' must be a mapping with a name")
            return
        name_node = _get(node, "name")
        if not isinstance(name_node, ScalarNode):
            self.add(node, "each model needs a 'name'")
            return
        name = str(name_node.value)
        if name not in self.segment_names:
            self.add(
                name_node,
                f"'{name}' is not a segment in this folder: a YAML file in models/segments may "
                "only describe segments (no other model, seed or snapshot)",
            )
            return
        for key, value in self._items(node, MODEL_KEYS, f"segment {name}"):
            if key == "config":
                self.check_config(value, CONFIG_KEYS, f"segment {name}")
            elif key in ("data_tests", "tests"):
                self.check_tests(value, column=None)
            elif key == "columns":
                self.check_columns(value)

    def check_config(self, node: Node, allowed: frozenset[str], owner: str) -> None:
        if not isinstance(node, MappingNode):
            self.add(node, f"{owner}: config must be a mapping")
            return
        for key, value in self._items(node, allowed, f"{owner}'s config", config=True):
            if key == "enabled" and not _is_bool(value):
                self.add(value, "enabled must be true or false")

    def check_columns(self, node: Node) -> None:
        if not isinstance(node, SequenceNode):
            self.add(node, "'columns' must be a list")
            return
        for column in node.value:
            if not isinstance(column, MappingNode):
                self.add(column, "each column must be a mapping with a name")
                continue
            name = _get(column, "name")
            if not isinstance(name, ScalarNode) or not _IDENTIFIER.match(str(name.value)):
                self.add(name or column, "a column name must be a plain identifier")
                continue
            for key, value in self._items(column, COLUMN_KEYS, f"column {name.value}"):
                if key in ("data_tests", "tests"):
                    self.check_tests(value, column=str(name.value))

    def check_tests(self, node: Node, column: str | None) -> None:
        if not isinstance(node, SequenceNode):
            self.add(node, "tests must be a list")
            return
        for test in node.value:
            if isinstance(test, ScalarNode):
                name, body = str(test.value), None
            elif isinstance(test, MappingNode) and len(test.value) == 1:
                name, body = str(test.value[0][0].value), test.value[0][1]
            else:
                self.add(test, "a test is a name or a mapping with one test name")
                continue
            if name not in TESTS:
                self.add(
                    test,
                    f"test '{name}' is not allowed in a segment's YAML; use "
                    + ", ".join(sorted(TESTS)),
                )
                continue
            if column is None:
                self.add(test, f"test '{name}' belongs under a column")
                continue
            if body is not None:
                self.check_test_body(name, body)

    def check_test_body(self, name: str, body: Node) -> None:
        if not isinstance(body, MappingNode):
            self.add(body, f"{name}'s arguments must be a mapping")
            return
        allowed = TEST_ARGUMENT_KEYS[name] | {"config", "arguments", "severity", "tags", "meta"}
        for key, value in self._items(body, allowed, f"test {name}"):
            if key == "config":
                self.check_config(value, TEST_CONFIG_KEYS, f"test {name}")
            elif key == "arguments":
                self.check_test_body(name, value)
            elif key == "values":
                if not isinstance(value, SequenceNode):
                    self.add(value, "values must be a list")
                    continue
                for item in value.value:
                    if not isinstance(item, ScalarNode) or not _PLAIN_VALUE.match(str(item.value)):
                        self.add(item, "accepted values may only hold plain words and numbers")
            elif key == "to":
                match = _REF.match(str(value.value)) if isinstance(value, ScalarNode) else None
                if match is None:
                    self.add(value, "relationships 'to' must be ref('model')")
                elif (
                    match.group(2) not in self.segment_names
                    and match.group(2) not in self.readable_models
                ):
                    self.add(value, f"ref('{match.group(2)}') is not readable by segments")
            elif key == "field":
                if not isinstance(value, ScalarNode) or not _IDENTIFIER.match(str(value.value)):
                    self.add(value, "field must be a plain column name")
            elif key == "quote" and not _is_bool(value):
                self.add(value, "quote must be true or false")
            elif key == "severity" and not (
                isinstance(value, ScalarNode) and str(value.value).lower() in ("warn", "error")
            ):
                self.add(value, "severity must be warn or error")

    def _items(
        self, node: MappingNode, allowed: frozenset[str], owner: str, config: bool = False
    ) -> Iterator[tuple[str, Node]]:
        for key_node, value in node.value:
            key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
            normalised = key.replace("-", "_").lstrip("+")
            if normalised not in allowed:
                what = "is set by the project" if config else "is not allowed"
                self.add(
                    key_node,
                    f"'{key}' {what} in {owner}"
                    + (
                        " (a segment owns one table: materialization, schema, alias, database, "
                        "hooks, sql_header, grants and location are the project's)"
                        if config
                        else f"; allowed: {', '.join(sorted(allowed))}"
                    ),
                )
                continue
            yield normalised, value

    def _no_jinja(self, root: Node) -> None:
        """dbt renders Jinja in YAML values; a segment's YAML has none."""
        seen: set[int] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue  # anchors and aliases share nodes: visit each once
            seen.add(id(node))
            if isinstance(node, ScalarNode):
                value = str(node.value)
                if any(marker in value for marker in ("{{", "{%", "{#")):
                    self.add(node, "Jinja is not allowed in a segment's YAML")
            elif isinstance(node, MappingNode):
                for key, value in node.value:
                    stack.extend((key, value))
            elif isinstance(node, SequenceNode):
                stack.extend(node.value)


def _get(node: MappingNode, key: str) -> Node | None:
    for key_node, value in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return value
    return None


def _is_bool(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:bool"


def segment_files(directory: Path) -> tuple[list[Path], list[Path], list[tuple[Path, str]]]:
    """(.sql files, YAML files, refused paths with why) directly in the segments folder.

    dbt reads .py models, .md docs blocks and sub-folders there too: none is a segment."""
    sql_files: list[Path] = []
    yaml_files: list[Path] = []
    refused: list[tuple[Path, str]] = []
    for path in sorted(directory.rglob("*")):
        if path.is_dir():
            continue
        if path.parent != directory:
            refused.append(
                (
                    path,
                    "files in sub-folders of models/segments are not allowed (dbt builds them)",
                )
            )
        elif path.suffix == ".sql":
            sql_files.append(path)
        elif path.suffix in (".yml", ".yaml"):
            yaml_files.append(path)
        else:
            refused.append(
                (
                    path,
                    f"{path.suffix or 'extension-less'} files are not allowed in models/segments",
                )
            )
    return sql_files, yaml_files, refused
