"""Bad input gets a clear error, and nothing half-stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jobdesk.core.errors import InvalidInput, UnknownJobType
from tests.support.asserts import count
from tests.support.workers import ROOT


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"type": "no.such.type"}, UnknownJobType),
        ({"type": "test.noop", "data": "text"}, InvalidInput),
        ({"type": "test.noop", "maxAttempts": 0}, InvalidInput),
        ({"type": "test.noop", "priority": 1001}, InvalidInput),
        ({"type": "test.sleep", "data": {"seconds": "long"}}, InvalidInput),
        ({"type": "test.noop", "dependsOn": ["00000000-0000-0000-0000-000000000000"]}, InvalidInput),
    ],
)
async def test_service_rejects_bad_jobs_without_storing_anything(engine, spec, error):
    with pytest.raises(error):
        await engine.service.create_job("u", "o", spec)
    assert await count(engine.store.pool, "SELECT count(*) FROM jobs") == 0


async def test_a_batch_with_one_bad_job_stores_none(engine):
    specs = [{"type": "test.noop"}] * 5 + [{"type": "test.noop", "priority": "high"}]
    with pytest.raises(InvalidInput) as exc:
        await engine.service.create_jobs("u", "o", specs)
    assert exc.value.message.startswith("job 5:")
    assert await count(engine.store.pool, "SELECT count(*) FROM jobs") == 0
    created = await engine.service.create_jobs("u", "o", specs[:5])
    assert len({j.batch_id for j in created}) == 1
    assert await count(engine.store.pool, "SELECT count(*) FROM jobs") == 5


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "jobdesk", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["submit", "no.such.type"], None, "unknown job type 'no.such.type'"),
        (["submit", "test.noop", "--data", "[1, 2]"], None, "must be a JSON object"),
        (["submit", "test.noop", "--data", "{oops"], None, "not valid JSON"),
        (["submit", "test.noop", "--data", "@/nonexistent.json"], None, "cannot read"),
        (["submit", "test.noop", "--max-attempts", "0"], None, "maxAttempts"),
        (["submit", "test.noop", "--priority", "99999"], None, "priority"),
        (["db", "cleanup", "--older-than", "soon"], None, "invalid age"),
        (["worker", "--queues", "nope"], None, "unknown queue"),
        (
            ["db", "upgrade"],
            {"JOBDESK_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"},
            "cannot reach PostgreSQL",
        ),
        (["worker"], {"JOBDESK_REDIS_URL": "redis://127.0.0.1:1/0"}, "cannot reach Redis"),
        (["submit", "test.noop"], {"JOBDESK_API_PORT": "http"}, "invalid configuration"),
    ],
)
def test_cli_errors_are_one_line(settings, clean, args, env, words):
    result = _cli(*args, env=env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("jobdesk: error: ") and words in lines[0], lines[0]
    rows = subprocess.run(
        ["psql", settings.database_url, "-tAc", "SELECT count(*) FROM jobs"], capture_output=True, text=True
    )
    assert rows.stdout.strip() == "0"


@pytest.mark.slow
def test_submit_wait_shows_progress_and_exits_by_outcome(settings, clean, workers):
    workers.start(processes=1, threads=2)
    ok = _cli("submit", "test.sleep", "--data", json.dumps({"seconds": 0.5, "steps": 5}), "--wait")
    assert ok.returncode == 0, ok.stderr
    job_id, *rest = ok.stdout.splitlines()
    assert len(job_id) == 36 and json.loads("\n".join(rest)) == {"steps": 5}
    assert "100.0%" in ok.stderr and "completed" in ok.stderr
    bad = _cli("submit", "test.fail", "--max-attempts", "1", "--wait")
    assert bad.returncode == 1
    assert "failure on attempt 1" in bad.stdout
