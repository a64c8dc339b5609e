"""`jobdesk limits list|set|remove` and `jobdesk notify list|add|remove` against the real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest

from tests.integration.extras.test_cli_schedule import jobdesk
from tests.support.workers import ROOT, query


@pytest.fixture
def no_limits(tables):
    with psycopg.connect(tables.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM rate_limits")
    yield tables
    with psycopg.connect(tables.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM rate_limits")


async def test_limits_set_list_replace_remove(no_limits, capsys):
    url = no_limits.database_url
    status, out, err = await jobdesk(
        capsys, "limits", "set", "--type", "test.sleep", "--per-second", "5", "--max-concurrent", "2"
    )
    assert status == 0, err
    assert out.strip() == "type test.sleep: at most 5 jobs/s, 2 at once"
    status, out, _ = await jobdesk(capsys, "limits", "set", "--organization", "acme", "--per-second", "0.5")
    assert status == 0 and out.strip() == "organization acme: at most 0.5 jobs/s"
    rows = query(url, "SELECT scope, key, per_second, max_concurrent, tokens FROM rate_limits ORDER BY 1, 2")
    assert rows == [("organization", "acme", 0.5, None, 0.5), ("type", "test.sleep", 5.0, 2, 5.0)]

    status, out, _ = await jobdesk(capsys, "limits", "list")
    header, *lines = out.strip().splitlines()
    assert header.split() == ["SCOPE", "KEY", "PER", "SECOND", "MAX", "CONCURRENT"]
    assert [line.split() for line in lines] == [
        ["organization", "acme", "0.5", "-"],
        ["type", "test.sleep", "5", "2"],
    ]

    # Setting again replaces: a limit given only a cap loses its rate.
    status, out, _ = await jobdesk(capsys, "limits", "set", "--type", "test.sleep", "--max-concurrent", "3")
    assert status == 0 and out.strip() == "type test.sleep: 3 at once"
    status, out, _ = await jobdesk(capsys, "limits", "list", "--json")
    assert {"scope": "type", "key": "test.sleep", "perSecond": None, "maxConcurrent": 3} in json.loads(out)

    status, out, _ = await jobdesk(capsys, "limits", "remove", "--org", "acme")
    assert status == 0 and out.strip() == "removed the limit of organization acme"
    status, _, err = await jobdesk(capsys, "limits", "remove", "--org", "acme")
    assert status == 2 and err.strip() == "jobdesk: error: no rate limit for organization 'acme'"
    await jobdesk(capsys, "limits", "remove", "--type", "test.sleep")
    status, out, _ = await jobdesk(capsys, "limits", "list")
    assert out.strip() == "no rate limits"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--per-second", "5"], "give --type TYPE or --organization ORG (one of them)"),
        (["--type", "test.sleep", "--org", "a", "--per-second", "5"], "(one of them)"),
        (["--type", "test.sleep"], "give --per-second N, --max-concurrent N or both"),
        (["--type", "test.sleep", "--per-second", "fast"], "--per-second must be a number, not 'fast'"),
        (["--type", "test.sleep", "--max-concurrent", "1.5"], "--max-concurrent must be a whole number"),
        (["--type", "test.sleep", "--max-concurrent", "0"], "--max-concurrent must be above 0"),
        (["--type", "test.sleep", "--per-second", "nan"], "--per-second must be above 0"),
        (["--type", "no.such.type", "--per-second", "1"], "--type: unknown job type 'no.such.type'"),
    ],
)
async def test_limits_bad_input_is_one_line(no_limits, capsys, args, message):
    status, _, err = await jobdesk(capsys, "limits", "set", *args)
    assert status == 2
    assert err.startswith("jobdesk: error: ") and message in err and len(err.strip().splitlines()) == 1
    assert query(no_limits.database_url, "SELECT count(*) FROM rate_limits") == [(0,)]


async def test_notify_add_list_remove(tables, capsys):
    url = tables.database_url
    status, out, err = await jobdesk(
        capsys,
        *("notify", "add", "test.noop", "--channel", "slack"),
        *("--target", "https://hooks.slack.com/services/T/B/x", "--events", "failed", "--org", "acme"),
    )
    assert status == 0, err
    rule_id, text = out.strip().split("  ", 1)
    assert text == "test.noop jobs failed in acme → slack https://hooks.slack.com/services/T/B/x"
    status, out, _ = await jobdesk(
        capsys,
        "notify",
        "add",
        "test.sleep",
        "--channel",
        "email",
        "--target",
        " ops@example.org ",
        "--disabled",
    )
    assert status == 0 and "(disabled)" in out
    rows = query(
        url, "SELECT organization_id, job_type, channel, target, events, enabled FROM notification_rules"
    )
    assert sorted(rows) == [
        ("acme", "test.noop", "slack", "https://hooks.slack.com/services/T/B/x", ["failed"], True),
        ("default", "test.sleep", "email", "ops@example.org", ["completed", "failed"], False),
    ]

    status, _, err = await jobdesk(
        capsys,
        *("notify", "add", "test.noop", "--channel", "slack"),
        *("--target", "https://hooks.slack.com/services/T/B/x", "--events", "failed", "--org", "acme"),
    )
    assert status == 2 and "already notify" in err and len(err.strip().splitlines()) == 1

    status, out, _ = await jobdesk(capsys, "notify", "list")
    header, *lines = out.strip().splitlines()
    assert header.split() == ["ID", "ORG", "TYPE", "EVENTS", "CHANNEL", "TARGET", "STATE"]
    assert lines[0].split() == [
        rule_id[:8],
        "acme",
        "test.noop",
        "failed",
        "slack",
        "https://hooks.slack.com/services/T/B/x",
        "enabled",
    ]
    assert lines[1].split()[1:] == [
        "default",
        "test.sleep",
        "completed,failed",
        "email",
        "ops@example.org",
        "disabled",
    ]
    status, out, _ = await jobdesk(capsys, "notify", "list", "--org", "acme", "--json")
    (listed,) = json.loads(out)
    assert listed["id"] == rule_id and listed["events"] == ["failed"]
    status, out, _ = await jobdesk(capsys, "notify", "list", "--type", "test.sleep")
    assert len(out.strip().splitlines()) == 2 and "ops@example.org" in out

    status, _, err = await jobdesk(capsys, "notify", "remove", rule_id[:8], "--org", "other")
    assert status == 2 and err.strip().startswith(
        f"jobdesk: error: no notification rule with id '{rule_id[:8]}'"
    )
    status, out, _ = await jobdesk(capsys, "notify", "remove", rule_id[:8])
    assert status == 0 and out.startswith(f"removed {rule_id}  test.noop jobs failed in acme")
    assert query(url, "SELECT count(*) FROM notification_rules") == [(1,)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["test.noop", "--channel", "pager", "--target", "x"], "invalid notification rule: channel:"),
        (["test.noop", "--channel", "email", "--target", "nobody"], "'nobody' is not an email address"),
        (["test.noop", "--channel", "webhook", "--target", "ftp://x/y"], "must be an http(s) URL"),
        (["test.noop", "--channel", "slack", "--target", "https://x.org", "--events", "done"], "events"),
        (["no.such.type", "--channel", "slack", "--target", "https://x.org"], "jobType: unknown job type"),
    ],
)
async def test_notify_bad_input_is_one_line(tables, capsys, args, message):
    status, _, err = await jobdesk(capsys, "notify", "add", *args)
    assert status == 2
    assert err.startswith("jobdesk: error: ") and message in err and len(err.strip().splitlines()) == 1
    assert query(tables.database_url, "SELECT count(*) FROM notification_rules") == [(0,)]


def test_the_real_command_lines(no_limits):
    """The console script's path, in its own process: exit codes and one-line errors, no traceback."""

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jobdesk", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=60,
        )

    ok = cli("limits", "set", "--type", "test.noop", "--per-second", "5", "--max-concurrent", "2")
    assert ok.returncode == 0 and ok.stdout.strip() == "type test.noop: at most 5 jobs/s, 2 at once", (
        ok.stderr
    )
    bad = cli("limits", "set", "--type", "test.noop", "--per-second", "lots")
    assert (
        bad.returncode == 2
        and bad.stderr.strip() == "jobdesk: error: --per-second must be a number, not 'lots'"
    )
    added = cli("notify", "add", "test.noop", "--channel", "webhook", "--target", "https://example.org/hook")
    assert added.returncode == 0, added.stderr
    refused = cli("notify", "remove", "ffffffff")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("jobdesk: error: no notification rule with id 'ffffffff'")
    gone = cli("notify", "remove", added.stdout.split()[0])
    assert gone.returncode == 0 and gone.stdout.startswith("removed ")
