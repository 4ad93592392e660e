"""Where a sync or destination definition is wrong: pydantic's errors as one line per problem,
with the field's line and column in the YAML file and what the field takes."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError


def format_validation_error(
    exc: ValidationError,
    path: Path,
    label: str,
    item: yaml.Node | None = None,
    model: type[BaseModel] | None = None,
) -> str:
    """One line per problem: the field, its line and column in `path` (from the YAML node
    of the item, when known) and what is wrong with it."""
    errors = [_without_union_tag(err) for err in exc.errors()]
    # a value no member of a union takes: the deepest complaints if a member got further,
    # else one line saying what the field takes
    deeper = {err["loc"][:-1] for err in errors if err.get("member_depth", 0) > 1}
    lines = []
    seen: set[tuple] = set()
    for err in errors:
        loc = err["loc"]
        if err.get("member_depth") == 1:
            if loc in seen or any(d[: len(loc)] == loc for d in deeper):
                continue
            err = {**err, "type": "union", "msg": f"{err['takes']}, not {_yaml_kind(err['input'])}"}
        seen.add(loc)
        where = ".".join(str(p) for p in loc) or "(top level)"
        position = _position(item, loc)
        at = f" (line {position[0]}, column {position[1]})" if position else ""
        message = err["msg"]
        if err["type"] == "extra_forbidden" and model is not None and len(loc) == 1:
            allowed = ", ".join(n for n in model.model_fields if n != "source_file")
            message += f": unknown key {loc[0]!r} (allowed: {allowed})"
        elif err["type"] == "string_type" and isinstance(err.get("input"), int | float):
            message += f" (got the number {err['input']!r}; quote it in the YAML)"
        lines.append(f"  {label}.{where}{at}: {message}")
    return f"{path}: invalid definition\n" + "\n".join(lines)


# Union fields: where pydantic puts the member tag in an error's location, the tags, and
# what the field takes.
_UNIONS = {
    "options": (2, ("str", "int", "float", "bool"), "should be a string, number or true/false"),
    "primary_key": (1, ("str", "list[str]"), "should be a column name or a list of column names"),
}


def _without_union_tag(err: dict) -> dict:
    """The error with pydantic's union member tag taken out of its location (kept as
    `member_depth`: 1 when the member refused the value itself, more when part of it)."""
    loc = tuple(err["loc"])
    union = _UNIONS.get(loc[0]) if loc else None
    if union is None or len(loc) <= union[0] or loc[union[0]] not in union[1]:
        return {**err, "loc": loc}
    index = union[0]
    return {
        **err,
        "loc": loc[:index] + loc[index + 1 :],
        "member_depth": len(loc) - index,
        "takes": union[2],
    }


def _yaml_kind(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "empty" if value is None else type(value).__name__


def _position(node: yaml.Node | None, loc: tuple) -> tuple[int, int] | None:
    """Line and column (1-based) of the deepest part of `loc` present under `node`."""
    if node is None:
        return None
    mark = node.start_mark
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next(
                ((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)), None
            )
            if found is None:
                break
            key, node = found
            mark = key.start_mark
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            mark = node.start_mark
        else:
            break
    return mark.line + 1, mark.column + 1


def item_nodes(path: Path, top_key: str) -> list[yaml.Node]:
    """The YAML nodes of the items under `top_key` (for positions; [] when unavailable)."""
    try:
        root = yaml.compose(path.read_text(), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError, RecursionError):
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if getattr(key, "value", None) == top_key and isinstance(value, yaml.SequenceNode):
            return list(value.value)
    return []
