"""Rules the test suite keeps about itself: no test skips itself, on a slow machine or in
the wrong runner; it waits (bounded, then fails) or fails with what to do."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
SKIPPING = re.compile(r"\b(pytest\.skip|mark\.skip|skipif|xfail|importorskip|SkipTest|unittest\.skip)\b")


def _skipping_files() -> set[str]:
    found = set()
    for path in sorted(TESTS.rglob("*.py")):
        if path != Path(__file__).resolve() and SKIPPING.search(path.read_text(encoding="utf-8")):
            found.add(path.relative_to(ROOT).as_posix())
    return found


def test_no_test_skips_itself() -> None:
    assert _skipping_files() == set(), "skip, skipif, xfail or importorskip: let the test wait or fail instead"


def test_interface_tests_outside_nameko_fail_with_what_to_do() -> None:
    """Collected by a plain pytest (no eventlet), they stop the run with the command that runs them."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/interface", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
    )
    assert result.returncode != 0 and "skipped" not in result.stdout, result.stdout[-2000:]
    assert "nameko test tests/interface" in result.stdout + result.stderr
