"""Run the dbt CLI against Tessera's project with the right project and profiles dirs.

For a person (`stream=True`) dbt's node lines become one progress bar and a summary line,
and the lines themselves go to a log file; for a program (`stream=False`) the output is
captured. Either way a failure raises DbtError naming the failing nodes.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tessera.dbt_events import DbtEvent, DbtLog, DbtSummary, DbtTally
from tessera.settings import Settings

# How long dbt gets to cancel its queries and exit after Ctrl-C before it is terminated.
_INTERRUPT_GRACE_SECONDS = 30
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # dbt colours some lines it prints before logging

# A dbt process started ahead of its command: it imports dbt (~2 s of one core) while this
# process does other work (the segment gate's compile, or training, on the other core), then
# reads its arguments as one JSON line on stdin and runs as `dbt <args>` would; on an empty
# line or end of input it exits without doing anything. Given parse arguments (argv[1], JSON)
# it also loads the project meanwhile (`dbt parse`: ~1.5 s from dbt's partial-parse cache)
# and hands the manifest to the command, if that names the same project, profile, target
# and vars; else the command parses for itself, as dbt would.
_PRESTART_DRIVER = """
import json, sys
from dbt.cli.main import cli, dbtRunner

SAME_PARSE = ("--project-dir", "--profiles-dir", "--profile", "--target", "--target-path", "--vars")

def parse_flags(args):
    return {a: args[i + 1] for i, a in enumerate(args[:-1]) if a in SAME_PARSE}

parse_args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else []
manifest = None
if parse_args:
    parsed = dbtRunner().invoke(["parse", "--quiet", "--log-format", "json", *parse_args])
    manifest = parsed.result if parsed.success else None
line = sys.stdin.readline()
if not line.strip():
    sys.exit(0)
args = json.loads(line)
if manifest is not None and parse_flags(args) == parse_flags(parse_args):
    ran = dbtRunner(manifest=manifest).invoke(args)
    sys.exit(0 if ran.success else 2 if ran.exception is not None else 1)
sys.argv = ["dbt", *args]
sys.exit(cli())
"""


class DbtError(RuntimeError):
    """dbt exited non-zero; the message carries the failing nodes and dbt's own summary."""


class DbtUsageError(DbtError):
    """dbt refused its command line (an option it does not have, a value it cannot take):
    the message is dbt's one line (`No such option: '--bogus'`)."""


# click's words for a command line it refuses (dbt's CLI is click; exit 2, before any work)
_CLICK_USAGE = re.compile(
    r"^Error: ((?:No such option|Invalid value for|Got unexpected extra argument|"
    r"Missing argument|Option '[^']+' requires).*)$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class DbtRun:
    args: tuple[str, ...]
    seconds: float
    results: list[dict]
    log_path: Path | None = None
    output: str = ""  # dbt's captured output (stream=False)

    def node_timings(self) -> dict[str, float]:
        return {r["unique_id"]: r.get("execution_time", 0.0) for r in self.results}

    @property
    def summary(self) -> DbtSummary:
        return DbtSummary.from_results(self.results)


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def dbt_command(settings: Settings, args: Sequence[str], vars: dict | None = None) -> list[str]:
    """`dbt <args>` against Tessera's project, profiles dir and target."""
    cmd = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_profiles_dir),
        "--target",
        settings.dbt_target,
    ]
    if vars:
        cmd += ["--vars", json.dumps(vars)]
    return cmd


class PrestartedDbt:
    """A dbt process that imports dbt and waits for its arguments (run_dbt's `prestarted`);
    `discard()` lets it exit unused. Same environment and directory as run_dbt's own; none
    when dbt is not installed next to this interpreter (run_dbt then starts `dbt` itself)."""

    def __init__(self, settings: Settings, vars: str | None = None, parse: bool = False) -> None:
        self.settings = settings
        self.proc: subprocess.Popen | None = None
        self.start(vars, parse)

    def start(self, vars: str | None = None, parse: bool = False) -> None:
        """Start a process for the next command, unless one is waiting already; `parse`: it
        also parses the project (with `vars`, as the command will) before the command comes."""
        if self.proc is not None or not Path(sys.executable).with_name("dbt").exists():
            return
        driver = [sys.executable, "-c", _PRESTART_DRIVER]
        if parse:
            parse_args = dbt_command(self.settings, [])[1:]
            driver.append(
                json.dumps([*parse_args, *(["--vars", vars] if vars is not None else [])])
            )
        self.proc = _start_dbt_process(driver, self.settings, stdin=subprocess.PIPE)

    def take(self, cmd: Sequence[str]) -> subprocess.Popen | None:
        """Hand `cmd` (dbt's arguments after the executable) to the process, once."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None or proc.stdin is None:
            return None
        try:
            proc.stdin.write(json.dumps(list(cmd)) + "\n")
            proc.stdin.close()
            proc.stdin = None  # closed: communicate() must not flush it
        except OSError:  # it died (killed, or could not import dbt): start a fresh one
            proc.kill()
            proc.wait()
            return None
        return proc

    def discard(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # end of input: it exits without running anything
                proc.stdin = None
            proc.communicate(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


def dbt_log_path(settings: Settings, label: str) -> Path:
    return settings.artifacts_dir / "logs" / f"dbt_{label}.log"


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    vars: dict | None = None,
    stream: bool = True,
    console: Console | None = None,
    label: str | None = None,
    prestarted: PrestartedDbt | None = None,
) -> DbtRun:
    """Run `dbt <args>`; raise DbtError naming the failures when dbt fails.

    `stream=True` shows a progress bar and a summary on `console` and writes dbt's lines to
    `<artifacts>/logs/dbt_<label>.log` (label: the dbt command by default). `prestarted`: a
    dbt process started earlier to run this command (streamed runs only).
    """
    if not settings.create_missing_warehouse:
        from tessera.warehouse import require_warehouse

        require_warehouse(settings)  # dbt would create an empty file
    cmd = dbt_command(settings, args, vars)
    results_path = _target_path(settings, args) / "run_results.json"
    results_path.unlink(missing_ok=True)
    started = time.perf_counter()
    tally: DbtTally | None = None
    if stream:
        console = console or Console()
        log_path = dbt_log_path(settings, label or (args[0] if args else "dbt"))
        cmd += ["--log-format", "json", "--no-use-colors"]
        returncode, tally = _run_with_progress(cmd, settings, args, console, log_path, prestarted)
        output = "\n".join(tally.errors)
    else:
        log_path = None
        proc = subprocess.run(
            cmd,
            cwd=settings.dbt_project_dir,
            env=settings.dbt_env(),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        returncode, output = proc.returncode, proc.stdout or ""
    seconds = time.perf_counter() - started
    results = _read_run_results(results_path)
    if returncode != 0:
        failures = [
            f"{r['unique_id']}: {(r.get('message') or '').strip()}"
            for r in results
            if r.get("status") in ("error", "fail", "runtime error")
        ]
        detail = "\n  ".join(failures) if failures else _ANSI.sub("", output)[-3000:]
        where = f"\n  full log: {log_path}" if log_path else ""
        usage = _CLICK_USAGE.search(_ANSI.sub("", output)) if returncode == 2 else None
        if usage is not None and not failures:
            raise DbtUsageError(usage.group(1))
        opening = None if failures else _warehouse_open_error(settings, _ANSI.sub("", output))
        if opening is not None:  # DuckDB's error in dbt's traceback: the file, not the frames
            raise DbtError(f"dbt {' '.join(shown_args(args))} failed: {opening}{where}")
        raise DbtError(
            f"dbt {' '.join(shown_args(args))} failed (exit {returncode}):\n  {detail}{where}"
        )
    run = DbtRun(
        args=tuple(args),
        seconds=seconds,
        results=results,
        log_path=log_path,
        output="" if stream else output,
    )
    if tally is not None and console is not None:
        summary = DbtSummary.from_results(results, log_warnings=len(tally.warnings))
        console.print(
            f"dbt {args[0] if args else ''}: {summary.line()} in {seconds:.0f}s "
            f"(full log: {log_path})",
            soft_wrap=True,
        )
    return run


def _warehouse_open_error(settings: Settings, output: str) -> str | None:
    """The message for dbt's failure to open the DuckDB warehouse (locked, not writable,
    damaged ...) when its output ends in one, else None."""
    if settings.target != "duckdb":
        return None
    from tessera.warehouse_errors import describe_open_error

    for line in reversed(output.splitlines()):
        if "Error" in line and str(settings.warehouse_path) in line:
            message = line.split("Exception: ", 1)[-1] if "Exception: " in line else line
            return describe_open_error(settings.warehouse_path, message.strip())
    return None


def shown_args(args: Sequence[str], most: int = 4) -> list[str]:
    """dbt's arguments for a message: a long run of selectors (the tests `tessera build`
    leaves out) is cut to its first few and a count of the rest, a long one (inline SQL) to
    its start."""
    shown: list[str] = []
    run = cut = 0
    for arg in [*args, "--"]:
        run = 0 if arg.startswith("-") else run + 1
        if run == 0 and cut:
            shown.append(f"... ({cut} more)")
            cut = 0
        if run > most:
            cut += 1
        else:
            shown.append(arg if len(arg) <= 100 else f"{arg[:60]}...")  # inline SQL
    return shown[:-1]


def _run_with_progress(
    cmd: list[str],
    settings: Settings,
    args: Sequence[str],
    console: Console,
    log_path: Path,
    prestarted: PrestartedDbt | None = None,
) -> tuple[int, DbtTally]:
    verb = f"dbt {args[0]}" if args else "dbt"
    tally = DbtTally()
    log = DbtLog(log_path)
    proc = prestarted.take(cmd[1:]) if prestarted is not None else None
    if proc is None:
        proc = _start_dbt_process(cmd, settings)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(f"{verb}: parsing the project", total=None)
            assert proc.stdout is not None
            for line in proc.stdout:
                event = DbtEvent.parse(line)
                log.write(event)
                warnings = len(tally.warnings)
                tally.record(event)
                if len(tally.warnings) > warnings:
                    progress.console.print(f"[yellow]dbt warning:[/yellow] {tally.warnings[-1]}")
                if tally.total:
                    progress.update(
                        task,
                        total=tally.total,
                        completed=tally.done,
                        description=f"{verb}: {tally.current}"[:60],
                    )
        return proc.wait(), tally
    except BaseException:
        _stop(proc)
        raise
    finally:
        log.close()


def _start_dbt_process(
    cmd: list[str], settings: Settings, stdin: int | None = None
) -> subprocess.Popen:
    """dbt (or the prestart driver) in the project, its output as lines on one pipe."""
    return subprocess.Popen(
        cmd,
        cwd=settings.dbt_project_dir,
        env=settings.dbt_env(),
        text=True,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        bufsize=1,
    )


def _stop(proc: subprocess.Popen) -> None:
    """Let dbt cancel its queries and exit (it got Ctrl-C too when run from a terminal), then
    insist: a killed dbt leaves nothing half-written in DuckDB, whose writes are atomic."""
    try:
        try:
            proc.communicate(timeout=1)
            return
        except subprocess.TimeoutExpired:
            pass
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=_INTERRUPT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    except BaseException:
        proc.kill()
        raise


def _target_path(settings: Settings, args: Sequence[str]) -> Path:
    args = list(args)
    if "--target-path" in args:
        return Path(args[args.index("--target-path") + 1])
    return settings.dbt_project_dir / "target"


def _read_run_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    try:
        return json.loads(path.read_text()).get("results", [])
    except json.JSONDecodeError:
        return []
