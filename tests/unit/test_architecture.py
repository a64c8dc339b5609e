"""The layer contract (EXAMPLES.md), ruff and mypy, enforced by the suite, not by memory."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    if not exe.exists():
        found = shutil.which(tool)
        if not found:
            pytest.fail(f"{tool} is not installed (it is a dev dependency)")
        exe = Path(found)
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_import_layers_hold():
    result = _run("lint-imports")
    assert result.returncode == 0, result.stdout[-3000:]


def test_ruff_is_clean():
    result = _run("ruff", "check", "--quiet", ".")
    assert result.returncode == 0, result.stdout[-3000:]


def test_mypy_is_clean():
    # About 40 s from a cold cache on 2 cores; the configuration is pyproject.toml's.
    result = _run("mypy", "jobdesk", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
