"""`tessera demo` as a newcomer meets it: a fresh copy of the project, nothing set, output to a
pipe (no terminal). Ctrl-C during the dbt step is a real SIGINT to the real process; the next
run must recover, and its output must read well."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.fresh_project import clean_env, copy_project, tessera_command

# The smallest size README promises works end to end (the churn model needs enough customers).
DEMO_PERSONS = 600


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


@pytest.mark.slow
def test_ctrl_c_during_dbt_then_the_next_demo_recovers_and_reads_well(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "tessera")
    env = clean_env(project)
    log = project / "artifacts" / "logs" / "dbt_demo_models.log"
    interrupted_out = tmp_path / "interrupted.txt"
    with interrupted_out.open("w") as out:
        demo = subprocess.Popen(
            tessera_command("demo", "--persons", str(DEMO_PERSONS)),
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 600
            # dbt is running nodes once its log has a START line
            while not (log.exists() and " START " in log.read_text()):
                assert demo.poll() is None, interrupted_out.read_text()
                assert time.monotonic() < deadline, "dbt never started running nodes"
                time.sleep(0.5)
            dbt = _children(demo.pid)
            assert dbt, "the dbt subprocess should be running"
            demo.send_signal(signal.SIGINT)
            assert demo.wait(timeout=120) == 130
        finally:
            if demo.poll() is None:
                demo.kill()
    output = interrupted_out.read_text()
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines[-1].startswith("Interrupted during 'dbt build: staging, identity, profiles")
    assert "Run `tessera demo` again" in lines[-1]
    assert "Traceback" not in output and "KeyboardInterrupt" not in output
    assert not any(_alive(pid) for pid in dbt), "dbt must not outlive the interrupted demo"

    rerun = subprocess.run(
        tessera_command("demo", "--persons", str(DEMO_PERSONS)),
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    output = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, output[-5000:]
    assert "Replacing the demo warehouse" in output
    assert "\x1b" not in output, "no colour codes without a terminal"
    # dbt's node lines went to the log, not to the person reading
    assert not re.search(r"\d+ of \d+ (START|OK|PASS)", output)
    assert len(output.splitlines()) < 400
    summaries = re.findall(
        r"dbt build: ([\d,]+) nodes, ([\d,]+) models, ([\d,]+) of ([\d,]+) tests passed, "
        r"(\d+) warnings? in \d+s \(full log: (\S+)\)",
        " ".join(output.split()),
    )
    assert len(summaries) == 2, output
    for nodes, models, passed, tests, _warnings, path in summaries:
        assert int(nodes.replace(",", "")) > int(models) > 0
        assert passed == tests
        full_log = Path(path)
        assert full_log.is_relative_to(project / "artifacts" / "logs")
        text = full_log.read_text()
        assert " START " in text and "\x1b" not in text
    flat = " ".join(output.split())
    match = re.search(
        r"([\d,]+) simulated people became ([\d,]+) profiles: ([\d,]+) known customers .* and "
        r"([\d,]+) anonymous visitors",
        flat,
    )
    assert match, "the demo explains persons vs known customers vs simulated people"
    simulated, profiles, known, anonymous = (int(g.replace(",", "")) for g in match.groups())
    assert simulated == DEMO_PERSONS and profiles == known + anonymous and profiles > simulated
    next_steps = flat[flat.index("Next steps") :]
    for hint in ("make ui", "tessera segments preview", "tessera sync status", "Charts:"):
        assert hint in next_steps
    assert (project / "warehouse" / "tessera.duckdb").exists()
