"""`jobdesk schedule add|list|enable|disable|remove` against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from jobdesk.cli.main import main
from tests.support.workers import ROOT


async def jobdesk(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the CLI in a thread (it runs its own event loop); exit status, stdout, stderr."""

    def run() -> int:
        try:
            return main(list(argv))
        except SystemExit as exc:
            return int(exc.code or 0)

    status = await asyncio.to_thread(run)
    out = capsys.readouterr()
    return status, out.out, out.err


async def test_add_list_disable_enable_remove(tables, capsys):
    status, out, _ = await jobdesk(
        capsys,
        *("schedule", "add", "nightly", "test.sleep", "--cron", "30 2 * * *", "--timezone", "Europe/Paris"),
        *(
            "--data",
            '{"seconds": 1}',
            "--missed",
            "skip",
            "--org",
            "org1",
            "--user",
            "ann",
            "--job-name",
            "sleepy",
        ),
    )
    assert status == 0 and "nightly" in out and "next run: " in out

    status, _, err = await jobdesk(
        capsys, "schedule", "add", "nightly", "test.noop", "--cron", "* * * * *", "--org", "org1"
    )
    assert (
        status == 2
        and err.strip() == "jobdesk: error: a schedule named 'nightly' already exists in organization 'org1'"
    )

    status, out, _ = await jobdesk(capsys, "schedule", "list")
    header, row = out.strip().splitlines()
    assert header.split()[:4] == ["NAME", "ORG", "CRON", "TIMEZONE"]
    assert row.split()[:4] == ["nightly", "org1", "30", "2"] and "Europe/Paris" in row and "skip" in row

    status, out, _ = await jobdesk(capsys, "schedule", "list", "--json")
    (listed,) = json.loads(out)
    assert listed["job"] == {
        "type": "test.sleep",
        "name": "sleepy",
        "priority": 0,
        "data": {"seconds": 1.0, "steps": 1},
    }
    assert listed["userId"] == "ann" and listed["missedPolicy"] == "skip"

    status, out, _ = await jobdesk(capsys, "schedule", "disable", "nightly", "--org", "org1")
    assert status == 0 and out.strip() == "nightly: disabled"
    status, out, _ = await jobdesk(capsys, "schedule", "enable", listed["id"], "--org", "org1")
    assert status == 0 and out.startswith("nightly: enabled, next run")
    status, out, _ = await jobdesk(capsys, "schedule", "remove", "nightly", "--org", "org1")
    assert status == 0 and out.strip() == f"removed nightly ({listed['id']})"
    status, _, err = await jobdesk(capsys, "schedule", "remove", "nightly", "--org", "org1")
    assert status == 2 and err.strip() == "jobdesk: error: schedule nightly not found"
    status, out, _ = await jobdesk(capsys, "schedule", "list")
    assert out.strip() == "no schedules"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cron", "*/5 * * *"], "cron: '*/5 * * *' has 4 fields"),
        (["--cron", "* * * * *", "--timezone", "Nowhere/Town"], "timezone: unknown time zone 'Nowhere/Town'"),
        (["--cron", "* * * * *", "--data", '{"seconds": "x"}'], "job.data: invalid data for 'test.sleep'"),
        (["--cron", "* * * * *", "--data", "[1]"], "--data must be a JSON object, not list"),
        (["--cron", "* * * * *", "--priority", "9999"], "job.priority:"),
    ],
)
async def test_bad_input_is_one_line(tables, capsys, args, message):
    status, _, err = await jobdesk(capsys, "schedule", "add", "s", "test.sleep", *args)
    assert status == 2
    assert err.startswith("jobdesk: error: ") and message in err and len(err.strip().splitlines()) == 1


def test_the_real_command_line(tables):
    """The console script's path, in its own process: a bad type is one line, exit 2, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "jobdesk", "schedule", "add", "s", "no.such.type", "--cron", "* * * * *"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("jobdesk: error: job.type: unknown job type 'no.such.type'")
    assert "Traceback" not in proc.stderr
