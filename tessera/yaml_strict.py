"""Read a YAML file (or option) strictly, every problem one line with its place.

PyYAML's safe loader lets a repeated key silently win (`mode: upsert` then `mode: mirror`
on the next line becomes mirror, which deletes), raises a bare `ValueError` without a line
for an impossible date (`2024-02-30`), a RecursionError for deeply nested brackets, and
multi-line messages with caret lines for syntax errors. Here each is `file:line:column:
what`, raised as YamlFileError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor


class YamlFileError(ValueError):
    """YAML that cannot be read as written; the message names where (file:line:column), and
    `problem`, `line` and `column` (1-based, None when unknown) are there for callers that
    report places in their own words."""

    def __init__(
        self, message: str, problem: str = "", line: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(message)
        self.problem = problem or message
        self.line = line
        self.column = column


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                seen = first_line.get(key)
            except TypeError:  # an unhashable key: PyYAML reports it itself
                continue
            if seen is not None:
                raise ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice in one mapping (first on line {seen}); keep one",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:  # type: ignore[override]
        try:
            return SafeConstructor.construct_yaml_timestamp(self, node)
        except ValueError as exc:
            raise ConstructorError(
                None, None, f"{node.value!r} is not a date ({exc})", node.start_mark
            ) from None


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)


def load_yaml_file(path: Path) -> Any:
    """The YAML document in `path`, or YamlFileError naming what is wrong and where."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlFileError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = f"not UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        raise YamlFileError(f"{path}:{line}:{column}: {problem}", problem, line, column) from None
    return load_yaml_text(text, str(path))


def load_yaml_text(text: str, where: str, *, in_file: bool = True) -> Any:
    """The YAML document in `text`, or YamlFileError naming what is wrong and where: `where`
    is the file (`file:line:column: ...`) or, `in_file` False, an option such as `--vars`
    (`--vars: ... at line L, column C`)."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "not readable"
        opened = exc.context_mark
        if exc.context and opened is not None and exc.problem_mark is not None:
            # "while parsing a flow sequence": where the unclosed bracket or quote began
            what += (
                f" ({exc.context} that began at line {opened.line + 1}, column {opened.column + 1})"
            )
        problem = f"not valid YAML: {what}"
        if mark is None:
            raise YamlFileError(f"{where}: {problem}", problem) from None
        line, column = mark.line + 1, mark.column + 1
        if in_file:
            message = f"{where}:{line}:{column}: {problem}"
        else:
            message = f"{where}: not valid YAML at line {line}, column {column}: {what}"
        raise YamlFileError(message, problem, line, column) from None
    except yaml.YAMLError as exc:
        problem = f"not valid YAML: {' '.join(str(exc).split())}"
        raise YamlFileError(f"{where}: {problem}", problem) from None
    except RecursionError:
        raise YamlFileError(f"{where}: nested too deeply to read", "nested too deeply") from None
