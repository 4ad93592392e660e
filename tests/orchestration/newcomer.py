"""What a newcomer has: a fresh copy of the project, nothing set, `make demo`, `make ui`.

The copy holds exactly the files git tracks (or would track: new files not yet committed),
with their modification times, and no warehouse, dbt target, Dagster home or artifacts. Its
`.venv` is a link to this checkout's bootstrapped one and make is told not to rebuild it
(`-o .venv/.installed`), which saves the minute a real first `make` spends installing.
`PYTHONPATH` points at the copy, so the copy's packages (and their PROJECT_ROOT) are the
ones imported, by `make`, the console scripts, `dagster dev` and its code server alike.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from tessera.settings import PROJECT_ROOT

VENV = Path(sys.executable).parent.parent


def tracked_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """Files a clone would have: tracked, or untracked but not ignored (not yet committed)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    return [Path(name.decode()) for name in listed if name and (root / name.decode()).is_file()]


def copy_project(dest: Path, root: Path = PROJECT_ROOT) -> Path:
    """A fresh copy of the project at `dest`, its .venv linked to this checkout's."""
    dest.mkdir(parents=True, exist_ok=True)
    for relative in tracked_files(root):
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target)
    (dest / ".venv").symlink_to(VENV, target_is_directory=True)
    return dest


def newcomer_env(project: Path, **extra: str) -> dict[str, str]:
    """This environment without any Tessera, Dagster or dbt setting; the copy on PYTHONPATH."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TESSERA_", "DAGSTER_", "DBT_"))
        and name not in ("PYTHONPATH", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST")
    }
    env["PYTHONPATH"] = str(project)
    env.update(extra)
    return env


def make_command(*targets_and_vars: str) -> list[str]:
    return ["make", "--no-print-directory", "-o", ".venv/.installed", *targets_and_vars]


def run_make(project: Path, log: Path, *args: str, timeout: float = 1200) -> None:
    with log.open("w") as out:
        proc = subprocess.run(
            make_command(*args),
            cwd=project,
            env=newcomer_env(project),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
    assert proc.returncode == 0, f"make {' '.join(args)} exited {proc.returncode}:\n{tail(log)}"


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class MakeUi:
    """`make ui` running in its own process group."""

    process: subprocess.Popen
    base_url: str
    log: Path
    project: Path

    def wait_until_ready(self, timeout_seconds: float = 300) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"make ui exited {self.process.returncode}:\n{tail(self.log)}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base_url}/server_info", timeout=2).ok:
                    return
            time.sleep(1)
        raise RuntimeError(f"make ui did not answer in {timeout_seconds:.0f} s:\n{tail(self.log)}")

    def emulator_urls(self) -> dict[str, str]:
        """Destination name -> emulator base URL, from the local syncs dir `make ui` wrote."""
        written = self.project / ".dagster_home" / "local_destinations" / "destinations.yml"
        destinations = yaml.safe_load(written.read_text())["destinations"]
        return {d["name"]: d["base_url"] for d in destinations if d["type"] != "file"}

    def stop(self) -> None:
        """Ctrl-C for the whole group (make, the emulators, dagster dev and its runs)."""
        for sig, wait in ((signal.SIGINT, 30), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=wait)


def start_make_ui(project: Path, port: int, log: Path, persons: int) -> MakeUi:
    with log.open("w") as out:
        process = subprocess.Popen(
            make_command("ui", f"UI_PORT={port}", f"PERSONS={persons}"),
            cwd=project,
            env=newcomer_env(project),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return MakeUi(process, f"http://127.0.0.1:{port}", log, project)
