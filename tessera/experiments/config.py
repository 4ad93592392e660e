"""Experiments declared in YAML next to the segment they split, and their validation.

An experiment lives in a segment's dbt YAML, under `config.meta.experiments` (dbt keeps
`meta` free-form, so dbt docs show it and the experiments models read it from the graph):

```yaml
models:
  - name: lapsed_vips
    config:
      meta:
        syncs: [hubspot_lapsed_vips]
        experiments:
          - name: vip_winback
            arms: {treatment: 90, holdout: 10}   # shares in percent, summing to 100
            start_date: "2026-01-01"
            outcome: purchase                    # orders and in-store purchases
            window_days: 30                      # outcomes counted this long after entry
            syncs: [hubspot_lapsed_vips]         # default: the segment's meta.syncs
            holdout_arm: holdout                 # default: holdout
            salt: vip_winback                    # default: the experiment name
```

The same rules are checked here (with file, line and column) and by the dbt macro
`experiment_definitions` (with file and key), so a plain `dbt build` refuses what
`tessera experiments validate` refuses.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
OUTCOMES = ("purchase",)
KEYS = frozenset(
    {"name", "arms", "start_date", "outcome", "window_days", "syncs", "holdout_arm", "salt"}
)
REQUIRED = ("name", "arms", "start_date", "outcome", "window_days")
BUCKETS = 10_000  # shares resolve to 0.01 percent
MAX_WINDOW_DAYS = 3650


class ExperimentConfigError(ValueError):
    """An experiment declaration is invalid; the message names file, line, column and key."""


@dataclass(frozen=True)
class Arm:
    name: str
    share: float
    is_holdout: bool
    bucket_low: int  # inclusive, of BUCKETS
    bucket_high: int  # exclusive


@dataclass(frozen=True)
class Experiment:
    name: str
    segment: str
    arms: tuple[Arm, ...]
    start_date: date
    outcome: str
    window_days: int
    syncs: tuple[str, ...]
    salt: str
    source_file: Path
    line: int = 0

    @property
    def holdout(self) -> Arm:
        return next(a for a in self.arms if a.is_holdout)

    @property
    def treatments(self) -> tuple[Arm, ...]:
        return tuple(a for a in self.arms if not a.is_holdout)


@dataclass
class _Collector:
    path: Path
    problems: list[str] = field(default_factory=list)

    def add(self, node: Node, key: str, message: str) -> None:
        mark = node.start_mark
        self.problems.append(f"{self.path}:{mark.line + 1}:{mark.column + 1}: {key}: {message}")


def _get(mapping: MappingNode, key: str) -> tuple[ScalarNode, Node] | None:
    for k, v in mapping.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return k, v
    return None


def _scalar(node: Node) -> object:
    return yaml.safe_load(yaml.serialize(node))


def yaml_files(models_dir: Path) -> list[Path]:
    return sorted(p for p in models_dir.rglob("*.yml") if not p.name.endswith(".syncs.yml"))


def load_experiments(models_dir: Path) -> list[Experiment]:
    """Every experiment declared under `models_dir`; ExperimentConfigError lists all problems."""
    experiments: list[Experiment] = []
    problems: list[str] = []
    for path in yaml_files(models_dir):
        text = path.read_text()
        if "experiments" not in text:
            continue
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            problems.append(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}")
            continue
        collector = _Collector(path)
        experiments += _from_file(root, collector)
        problems += collector.problems
    seen: dict[str, Experiment] = {}
    for exp in experiments:
        if exp.name in seen:
            first = seen[exp.name]
            problems.append(
                f"{exp.source_file}:{exp.line}: name: experiment {exp.name!r} is already "
                f"declared in {first.source_file}:{first.line}; names must be unique"
            )
        seen.setdefault(exp.name, exp)
    if problems:
        raise ExperimentConfigError(
            "invalid experiment declaration(s):\n  " + "\n  ".join(problems)
        )
    return experiments


def _from_file(root: Node | None, c: _Collector) -> list[Experiment]:
    if not isinstance(root, MappingNode):
        return []
    models = _get(root, "models")
    if models is None or not isinstance(models[1], SequenceNode):
        return []
    out: list[Experiment] = []
    for model in models[1].value:
        if not isinstance(model, MappingNode):
            continue
        name_entry = _get(model, "name")
        segment = str(_scalar(name_entry[1])) if name_entry else "?"
        for meta_owner in (_get(model, "config"), None):
            owner = meta_owner[1] if meta_owner else model
            if not isinstance(owner, MappingNode):
                continue
            meta = _get(owner, "meta")
            if meta is None or not isinstance(meta[1], MappingNode):
                continue
            prefix = f"models[{segment}]" + (".config" if meta_owner else "") + ".meta"
            entry = _get(meta[1], "experiments")
            if entry is None:
                continue
            segment_syncs = _scalar(_get(meta[1], "syncs")[1]) if _get(meta[1], "syncs") else []
            if not isinstance(entry[1], SequenceNode):
                c.add(entry[1], f"{prefix}.experiments", "must be a list of experiments")
                continue
            for i, item in enumerate(entry[1].value):
                key = f"{prefix}.experiments[{i}]"
                exp = _experiment(item, key, segment, segment_syncs, c)
                if exp is not None:
                    out.append(exp)
    return out


def _experiment(
    node: Node, key: str, segment: str, segment_syncs: object, c: _Collector
) -> Experiment | None:
    if not isinstance(node, MappingNode):
        c.add(node, key, "must be a mapping with name, arms, start_date, outcome, window_days")
        return None
    before = len(c.problems)
    values: dict[str, tuple[Node, object]] = {}
    for k, v in node.value:
        name = str(k.value)
        if name not in KEYS:
            c.add(k, f"{key}.{name}", f"unknown key (allowed: {', '.join(sorted(KEYS))})")
            continue
        values[name] = (v, _scalar(v))
    for required in REQUIRED:
        if required not in values:
            c.add(node, f"{key}.{required}", "is required")
    if len(c.problems) > before:
        return None

    name_node, name = values["name"]
    if not isinstance(name, str) or not NAME.match(name):
        c.add(name_node, f"{key}.name", "must be lower-case letters, digits and _ (max 63)")
    arms = _arms(values["arms"], values.get("holdout_arm"), key, c)
    start_node, start = values["start_date"]
    start_date: date | None = None
    if isinstance(start, date):
        start_date = start
    elif isinstance(start, str):
        with contextlib.suppress(ValueError):
            start_date = date.fromisoformat(start)
    if start_date is None:
        c.add(start_node, f"{key}.start_date", f"{start!r} is not a date (YYYY-MM-DD)")
    outcome_node, outcome = values["outcome"]
    if outcome not in OUTCOMES:
        c.add(outcome_node, f"{key}.outcome", f"{outcome!r} is not one of {', '.join(OUTCOMES)}")
    window_node, window = values["window_days"]
    if (
        isinstance(window, bool)
        or not isinstance(window, int)
        or not 1 <= window <= MAX_WINDOW_DAYS
    ):
        c.add(window_node, f"{key}.window_days", f"must be a whole number 1-{MAX_WINDOW_DAYS}")
    syncs_node, syncs = values.get("syncs", (node, segment_syncs or []))
    if not isinstance(syncs, list) or not all(isinstance(s, str) and s for s in syncs):
        c.add(syncs_node, f"{key}.syncs", "must be a list of sync names")
    salt_node, salt = values.get("salt", (name_node, name))
    if not isinstance(salt, str) or not salt:
        c.add(salt_node, f"{key}.salt", "must be a non-empty string")
    if len(c.problems) > before or arms is None:
        return None
    return Experiment(
        name=str(name),
        segment=segment,
        arms=arms,
        start_date=start_date,  # type: ignore[arg-type]
        outcome=str(outcome),
        window_days=int(window),  # type: ignore[arg-type]
        syncs=tuple(syncs),  # type: ignore[arg-type]
        salt=str(salt),
        source_file=c.path,
        line=node.start_mark.line + 1,
    )


def _arms(
    entry: tuple[Node, object], holdout: tuple[Node, object] | None, key: str, c: _Collector
) -> tuple[Arm, ...] | None:
    arms_node, arms = entry
    if not isinstance(arms, dict) or len(arms) < 2:
        c.add(arms_node, f"{key}.arms", "must map at least two arm names to shares in percent")
        return None
    holdout_node, holdout_name = holdout or (arms_node, "holdout")
    problems = len(c.problems)
    for arm, share in arms.items():
        if not isinstance(arm, str) or not NAME.match(arm):
            c.add(arms_node, f"{key}.arms.{arm}", "arm names are lower-case letters, digits, _")
        if isinstance(share, bool) or not isinstance(share, int | float) or share <= 0:
            c.add(arms_node, f"{key}.arms.{arm}", f"share {share!r} must be a positive number")
        elif abs(share * 100 - round(share * 100)) > 1e-9:
            c.add(arms_node, f"{key}.arms.{arm}", f"share {share} is finer than 0.01 percent")
    if len(c.problems) > problems:
        return None
    total = sum(float(s) for s in arms.values())
    if abs(total - 100) > 1e-9:
        c.add(arms_node, f"{key}.arms", f"shares add up to {total:g}, not 100")
        return None
    if holdout_name not in arms:
        c.add(
            holdout_node,
            f"{key}.holdout_arm",
            f"{holdout_name!r} is not one of the arms ({', '.join(arms)}); name the arm that "
            "is never sent",
        )
        return None
    out, cumulative = [], 0.0
    for arm, share in arms.items():
        low = round(cumulative * BUCKETS / 100)
        cumulative += float(share)
        high = round(cumulative * BUCKETS / 100)
        out.append(Arm(str(arm), float(share), arm == holdout_name, low, high))
    return tuple(out)
