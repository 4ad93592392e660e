"""The demo's Dagster runs: Ctrl-C stops them at once and leaves them canceled, not running."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus

from orchestration.ui import prepare_dagster_home
from tessera.settings import PROJECT_ROOT

SLOW_RUN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from dagster import DagsterInstance, asset
    from orchestration.demo_runs import materialize_interruptibly

    started = Path(sys.argv[2])

    @asset
    def slow_training() -> None:
        started.write_text("started")
        time.sleep(60)  # a model that trains for a minute

    with DagsterInstance.from_config(sys.argv[1]) as instance:
        try:
            materialize_interruptibly([slow_training], instance, tags={"case": "ctrl-c"})
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(130)
    print("finished", flush=True)
    """
)


def test_ctrl_c_stops_an_in_process_run_at_once_and_records_it_canceled(tmp_path: Path) -> None:
    home = prepare_dagster_home(tmp_path / "dagster_home")
    started = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_RUN, str(home), str(started)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not started.exists():
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)
    interrupted_at = time.monotonic()
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    waited = time.monotonic() - interrupted_at
    assert proc.returncode == 130, output
    assert "interrupted" in output and "finished" not in output
    assert waited < 20, f"Ctrl-C took {waited:.0f} s; the asset sleeps for 60"
    with DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
    assert run.tags["case"] == "ctrl-c"
    assert run.status == DagsterRunStatus.CANCELED
