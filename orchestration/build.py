"""`tessera build`: dbt build the project, and on a warehouse without scores yet, train and
score in between, so one command builds a fresh warehouse.

Segments that read `ml.person_scores` (descendants of the dbt source `ml`) cannot build before
a model has scored. When that relation is missing, the build runs in three phases: everything
else; training for models without a champion and scoring; then the score readers. Otherwise
it is one `dbt build`. The user's dbt selection, exclusion, `--vars` and other dbt flags
apply to every phase.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console

from tessera.dbt import run_dbt
from tessera.settings import Settings

# Models downstream of what ml/ writes back (dbt source `ml`): they need scores to exist.
SCORE_READERS = "source:ml+"
SCORES_SCHEMA, SCORES_TABLE = "ml", "person_scores"


@dataclass(frozen=True)
class BuildRequest:
    """What the user asked dbt for: selection and exclusion (dbt syntax), and other flags."""

    select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    full_refresh: bool = False
    vars: str | None = None
    dbt_args: tuple[str, ...] = field(default_factory=tuple)

    def args(self, select: Sequence[str] | None = None, exclude: Sequence[str] = ()) -> list[str]:
        select = self.select if select is None else select
        exclude = (*self.exclude, *exclude)
        args = ["build"]
        if select:
            args += ["--select", *select]
            if not any(a.startswith("--indirect-selection") for a in self.dbt_args):
                # a test runs when all the models it reads are selected or upstream of them:
                # dbt's default (eager) also runs `relationships` tests from unselected models,
                # which on a fresh warehouse read tables that do not exist yet
                args += ["--indirect-selection", "buildable"]
        if exclude:
            args += ["--exclude", *exclude]
        if self.full_refresh:
            args.append("--full-refresh")
        if self.vars is not None:
            args += ["--vars", self.vars]
        if self.runs_unit_tests:
            return [*args, *self.dbt_args]
        return [*args, "--exclude-resource-type", "unit_test", *self.dbt_args]

    @property
    def runs_unit_tests(self) -> bool:
        """dbt unit tests check SQL logic on fixed inputs, the same on every warehouse: CI runs
        them (`make test`) and, as dbt advises and the Dagster dbt asset does, a build of the
        customer's data skips them (~25 nodes, several seconds of a small first build), unless
        the user asks for them by selection or resource type."""
        asked = " ".join([*self.select, *self.dbt_args])
        return "unit" in asked or "resource-type" in asked or "resource_type" in asked

    @property
    def selects_everything(self) -> bool:
        """No selection or exclusion, and dbt's artifacts in the default place."""
        return not (self.select or self.exclude or "--target-path" in self.dbt_args)

    def score_readers(self) -> list[str]:
        """The user's selection narrowed to the score readers (dbt: comma = intersection)."""
        if not self.select:
            return [SCORE_READERS]
        return [f"{selector},{SCORE_READERS}" for selector in self.select]


@dataclass
class BuildOutcome:
    phases: list[str] = field(default_factory=list)
    trained: list[str] = field(default_factory=list)
    scored: list[str] = field(default_factory=list)
    not_built: str | None = None  # why the score readers were not built, if they were not

    @property
    def ok(self) -> bool:
        return self.not_built is None


def scores_exist(settings: Settings) -> bool:
    from tessera.warehouse import Warehouse

    with Warehouse(settings).session(read_only=True) as session:
        return session.table_exists(SCORES_SCHEMA, SCORES_TABLE)


def build(settings: Settings, request: BuildRequest, console: Console) -> BuildOutcome:
    """Build what the request selects; train and score first when score readers need it."""
    from tessera.segments.checks import require_valid_segments

    require_valid_segments(
        settings.dbt_project_dir, target=settings.dbt_target, env=settings.dbt_env()
    )
    outcome = BuildOutcome()
    if scores_exist(settings):
        run_dbt(settings, request.args(), console=console, label="build")
        outcome.phases.append("build")
        return outcome

    console.print(
        f"No {SCORES_SCHEMA}.{SCORES_TABLE} yet: building everything else first, then training "
        "and scoring, then the segments that read scores."
    )
    run_dbt(
        settings,
        request.args(exclude=[SCORE_READERS]),
        console=console,
        label="build_before_scores",
    )
    outcome.phases.append("build_before_scores")
    readers = selected_score_readers(settings, request)
    if not readers:
        return outcome
    failed = train_and_score(settings, console, outcome)
    if failed or not scores_exist(settings):
        outcome.not_built = (
            f"{', '.join(readers)} read {SCORES_SCHEMA}.{SCORES_TABLE}, which "
            f"{'training or scoring failed to produce (see above)' if failed else 'is empty'}"
        )
        return outcome
    run_dbt(
        settings,
        request.args(select=request.score_readers()),
        console=console,
        label="build_score_readers",
    )
    outcome.phases.append("build_score_readers")
    return outcome


def selected_score_readers(settings: Settings, request: BuildRequest) -> list[str]:
    """Models in the request that read scores: from the manifest the first phase just wrote
    when the whole project is selected, else from `dbt ls` (which only parses)."""
    manifest = settings.dbt_project_dir / "target" / "manifest.json"
    if request.selects_everything and manifest.exists():
        return score_readers_in_manifest(json.loads(manifest.read_text()))
    run = run_dbt(
        settings,
        [
            "ls",
            "--resource-type",
            "model",
            "--output",
            "name",
            "--quiet",
            "--select",
            *request.score_readers(),
            *(["--exclude", *request.exclude] if request.exclude else []),
            *(["--vars", request.vars] if request.vars is not None else []),
        ],
        stream=False,
    )
    return [line.strip() for line in run.output.splitlines() if line.strip()]


def score_readers_in_manifest(manifest: dict) -> list[str]:
    """Enabled models downstream of the `ml` source, by name."""
    nodes = manifest.get("nodes", {})
    children: dict[str, list[str]] = {}
    for unique_id, node in nodes.items():
        for parent in node.get("depends_on", {}).get("nodes", []):
            children.setdefault(parent, []).append(unique_id)
    frontier = [
        uid
        for uid in manifest.get("sources", {})
        if uid.startswith("source.")
        and manifest["sources"][uid].get("source_name") == SCORES_SCHEMA
    ]
    seen: set[str] = set()
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in seen:
                seen.add(child)
                frontier.append(child)
    return sorted(nodes[uid]["name"] for uid in seen if nodes[uid].get("resource_type") == "model")


def train_and_score(settings: Settings, console: Console, outcome: BuildOutcome) -> int:
    """Train every configured model without a champion, then score every model that has
    one. Returns the number of models that failed (each explained on the console)."""
    from ml.cli import score_models, train_models
    from ml.config import MLConfig
    from ml.registry import Registry

    config = MLConfig()
    names = [model.name for model in config.models]
    registry = Registry(settings.artifacts_dir)
    untrained = [name for name in names if registry.champion(name) is None]
    failed = 0
    if untrained:
        console.rule(f"[bold]ML: train {', '.join(untrained)} (no champion yet)")
        failed += train_models(settings, config, untrained, console)
        outcome.trained = [name for name in untrained if registry.champion(name) is not None]
    ready = [name for name in names if registry.champion(name) is not None]
    if ready:
        console.rule(f"[bold]ML: score {', '.join(ready)}")
        failed += score_models(settings, config, ready, console)
        outcome.scored = ready
    return failed
