"""`tessera build`: dbt build the project, and on a warehouse without scores yet, train and
score in between, so one command builds a fresh warehouse.

Segments that read `ml.person_scores` (descendants of the dbt source `ml`) cannot build before
a model has scored. When that relation is missing, the build runs in three phases: everything
else; training for models without a champion and scoring; then the score readers. Otherwise
it is one `dbt build`. The user's dbt selection, exclusion, `--vars` and other dbt flags
apply to every phase. Tests of staging that no source feeds are left out, and run after all
when their models turn out to have rows (orchestration/empty_sources.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console

from orchestration.empty_sources import SkippedTests, tests_to_skip, tests_with_rows
from tessera.dbt import PrestartedDbt, run_dbt
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
    """Build what the request selects; train and score first when score readers need it.

    The first dbt process starts before the segment gate's compile, and the score readers'
    before training, so that each imports dbt (~2 s) on the other core meanwhile; one not
    used (the gate refuses the build, training fails) exits without running anything."""
    prestarted = PrestartedDbt(settings)
    try:
        return _build(settings, request, console, prestarted)
    finally:
        prestarted.discard()


def _build(
    settings: Settings, request: BuildRequest, console: Console, prestarted: PrestartedDbt
) -> BuildOutcome:
    from tessera.segments.checks import require_valid_segments

    require_valid_segments(
        settings.dbt_project_dir, target=settings.dbt_target, env=settings.dbt_env()
    )
    outcome = BuildOutcome()
    skipped = skipped_tests(settings, request, console)
    if scores_exist(settings):
        run_dbt(
            settings,
            request.args(exclude=skipped.names),
            console=console,
            label="build",
            prestarted=prestarted,
        )
        outcome.phases.append("build")
        run_left_out_tests_with_rows(settings, request, skipped, console)
        return outcome

    console.print(
        f"No {SCORES_SCHEMA}.{SCORES_TABLE} yet: building everything else first, then training "
        "and scoring, then the segments that read scores."
    )
    import_training_meanwhile()
    run_dbt(
        settings,
        request.args(exclude=[SCORE_READERS, *skipped.names]),
        console=console,
        label="build_before_scores",
        prestarted=prestarted,
    )
    outcome.phases.append("build_before_scores")
    run_left_out_tests_with_rows(settings, request, skipped, console)
    readers = selected_score_readers(settings, request)
    if not readers:
        return outcome
    # the score readers' dbt imports dbt and loads the project while the models train (not
    # with other dbt flags of the user's: they may change what a parse makes)
    prestarted.start(vars=request.vars, parse=not request.dbt_args)
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
        prestarted=prestarted,
    )
    outcome.phases.append("build_score_readers")
    return outcome


def import_training_meanwhile() -> None:
    """Training imports LightGBM, scikit-learn, SciPy and matplotlib (~2 s of one core) after
    the first dbt build, which leaves this process waiting on dbt's output for longer: import
    them meanwhile, in a thread. An import that fails here fails again, with its message,
    where training imports it (Python keeps no half-imported module)."""

    def load() -> None:
        try:
            import ml.cli  # noqa: F401
            import ml.pipeline  # noqa: F401
        except Exception:  # noqa: BLE001 - raised again by the import that needs it
            pass

    threading.Thread(target=load, name="tessera-import-training", daemon=True).start()


def skipped_tests(settings: Settings, request: BuildRequest, console: Console) -> SkippedTests:
    """Tests of staging no source feeds on this warehouse, which the build leaves out."""
    if "--target-path" in request.dbt_args or request.runs_unit_tests:
        return SkippedTests()  # another manifest, or the user asks for tests by type
    skipped = tests_to_skip(settings, request.vars)
    if skipped:
        console.print(
            f"Leaving out {len(skipped.names)} tests of staging built empty (no data for "
            f"{', '.join(skipped.sources)}); they run if those models have rows after the build."
        )
    return skipped


def run_left_out_tests_with_rows(
    settings: Settings, request: BuildRequest, skipped: SkippedTests, console: Console
) -> None:
    """Run the left-out tests of any model that has rows after all (a source appeared)."""
    names = tests_with_rows(settings, skipped)
    if not names:
        return
    console.print(f"{len(names)} left-out tests read models that have rows: running them.")
    args = ["test", "--select", *names]
    if request.vars is not None:
        args += ["--vars", request.vars]
    run_dbt(settings, args, console=console, label="test_sources_with_rows")


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
