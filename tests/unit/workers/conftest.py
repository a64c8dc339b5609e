"""Fixtures for the built-in job types: a data directory and an in-process context."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobdesk.core.registry import BUILTIN_MODULES, load_job_modules
from jobdesk.workers.testing import InlineContext

# Registering the built-ins once makes every type visible to workflow steps.
load_job_modules([], builtins=True)
assert len(BUILTIN_MODULES) == 6


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    return root


@pytest.fixture
def make_ctx(data_dir: Path) -> Callable[..., InlineContext]:
    def make(**kwargs: Any) -> InlineContext:
        return InlineContext(data_dir, **kwargs)

    return make
