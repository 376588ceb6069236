"""make run's supervision (deploy/run.py Supervisor): a process that exits is restarted with
backoff, logged and counted; a crash loop ends with a clear message instead of restarting forever."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import eventually
from tests.unit.test_deployment import DEPLOY, load


def spawn(script: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script])


def test_a_crashed_process_is_restarted_logged_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "crashed-once"
    # crashes on its first start, runs on the second
    script = (f"import pathlib, sys, time\np = pathlib.Path({str(marker)!r})\n"
              "if not p.exists():\n    p.touch()\n    sys.exit(3)\ntime.sleep(120)")
    procs = {"projector": spawn(script)}
    supervisor = load(DEPLOY / "run.py").Supervisor(procs, lambda name: spawn(script), base=0.2)
    try:
        eventually(lambda: supervisor.check() and supervisor.restarts.get("projector") == 1 and procs["projector"].poll() is None,
                   timeout=30)
        assert supervisor.check() and supervisor.restarts == {"projector": 1}
        err = capsys.readouterr().err
        assert "[run] projector exited with code 3; restarting it in 0.2 s" in err
        assert "[run] projector restarted (restart 1)" in err
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()


def test_a_crash_loop_ends_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    script = "import sys; sys.exit(7)"
    procs = {"payments-saga": spawn(script)}
    supervisor = load(DEPLOY / "run.py").Supervisor(procs, lambda name: spawn(script), base=0.01, limit=3)
    results: list[bool] = []
    eventually(lambda: results.append(supervisor.check()) or results[-1] is False, timeout=30)
    err = capsys.readouterr().err
    assert supervisor.restarts == {"payments-saga": 2}
    assert "[run] payments-saga crashed 3 times within 120 s (last exit code 7): a crash loop — not restarting it" in err
