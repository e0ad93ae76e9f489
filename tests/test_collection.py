"""`make test` runs every test: each git-tracked test file is collected by pytest's own config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tracked_test_files() -> set[str]:
    out = subprocess.run(
        ["git", "ls-files", "*test_*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return {line for line in out.splitlines() if Path(line).name.startswith("test_")}


def _collected_test_files() -> set[str]:
    # No arguments: pytest uses testpaths from pyproject.toml, exactly as `make test` does.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {line.split("::", 1)[0] for line in result.stdout.splitlines() if "::" in line}


def test_every_tracked_test_file_is_collected():
    tracked = _tracked_test_files()
    assert "api/tests/test_api.py" in tracked  # the listing itself works
    missing = sorted(tracked - _collected_test_files())
    assert not missing, f"tracked test files pytest does not collect (see testpaths): {missing}"
