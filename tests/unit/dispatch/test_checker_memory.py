"""The start checker forgets old answers and revocations, also when it never idles."""

from __future__ import annotations

import pytest

from jobdesk.dispatch import checker as checker_module
from jobdesk.dispatch.checker import FORGET_AFTER_S, StartChecker


def test_a_busy_checker_still_forgets_old_revocations(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(checker_module.time, "monotonic", lambda: now[0])
    checker = StartChecker("postgresql://unused")  # not started: no thread, no connection
    checker._revoke("an-old-job")
    checker.prefetch("old", 1)
    now[0] += FORGET_AFTER_S + 1
    checker.prefetch("new", 1)  # there is always something to ask: it never waits
    asks = checker._take()
    assert asks is not None and [a[0] for a in asks] == ["old", "new"]
    assert "an-old-job" not in checker._revoked
    assert ("old", 1) not in checker._answers and ("new", 1) in checker._answers
