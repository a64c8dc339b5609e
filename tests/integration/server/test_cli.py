"""`jobdesk token` and `jobdesk serve` as a user runs them."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time

import httpx
import psutil
import pytest

from jobdesk.cli.main import main
from tests.support.workers import ROOT, query

# -- tokens ------------------------------------------------------------------------------------


def test_token_create_list_revoke(settings, capsys):
    assert main(["token", "create", "--user", "carol", "--org", "org-c", "--name", "laptop"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert re.fullmatch(r"jd_[A-Za-z0-9_-]{40,}", token), out
    token_id = re.search(r"token ([0-9a-f-]{36})", err).group(1)
    assert "shown only now" in err

    assert main(["token", "list"]) == 0
    out, _ = capsys.readouterr()
    line = next(row for row in out.splitlines() if row.startswith(token_id))
    assert "laptop" in line and "carol" in line and "org-c" in line and "member" in line
    assert token not in out  # never shown again

    assert main(["token", "revoke", token_id[:8]]) == 0
    assert "revoked" in capsys.readouterr().out
    revoked = query(settings.database_url, "SELECT revoked_at FROM api_tokens WHERE id = %s", (token_id,))
    assert revoked[0][0] is not None


def test_token_errors_are_one_line(settings, capsys):
    with pytest.raises(SystemExit) as info:
        main(["token", "revoke", "00000000-0000-0000-0000-000000000000"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no token with id" in err
    with pytest.raises(SystemExit):
        main(["token", "create", "--user", "", "--org", "o"])
    assert "user id" in capsys.readouterr().err


# -- serve -------------------------------------------------------------------------------------


def _serve_args(*extra: str) -> list[str]:
    return [sys.executable, "-m", "jobdesk", "serve", "--port", "0", "--ws-port", "0", *extra]


async def _start_serve(*extra: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *_serve_args(*extra),
        cwd=ROOT,
        env=env or dict(os.environ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.slow
async def test_serve_runs_everything_and_stops_cleanly(people):
    """SIGTERM; SIGINT has the same handler. Workers included, within 10 s, no orphans."""
    sig, workers = signal.SIGTERM, 1
    proc = await _start_serve("--workers", str(workers), "--threads", "2")
    try:
        banner = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        api = re.search(r"REST (http://\S+)/api ", banner).group(1)
        ws = re.search(r"WebSocket (ws://\S+/jobs)", banner).group(1)
        async with httpx.AsyncClient(base_url=api) as http:
            deadline = time.monotonic() + 30
            while True:
                health = (await http.get("/api/health")).json()
                if health["workers"]["live"] >= workers or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert health["status"] == "ok" and health["workers"]["live"] >= workers
            r = await http.get("/api/jobs", headers=people["alice"].headers)
            assert r.status_code == 200
            # The schedules, notifications and metrics run in `serve` too.
            assert (await http.get("/metrics", headers=people["root"].headers)).status_code == 200
            assert (await http.get("/api/schedules", headers=people["alice"].headers)).status_code == 200
        import websockets

        async with websockets.connect(f"{ws}?token={people['alice'].token}") as conn:
            await conn.send('{"event": "ping"}')
            assert "pong" in await asyncio.wait_for(conn.recv(), 5)

        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= (2 if workers else 0)  # the supervisor and its worker processes
        started = time.monotonic()
        proc.send_signal(sig)
        code = await asyncio.wait_for(proc.wait(), 10)
        took = time.monotonic() - started
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0, (await proc.stderr.read()).decode()
    assert took < 10
    for child in children:  # no orphans
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, child


# In-process (a sync test, so that `serve` may own the main thread's signals):
# a `python -m jobdesk` start-up costs seconds of imports that these need not pay.


@pytest.mark.parametrize(
    ("variable", "value", "names"),
    [
        ("JOBDESK_REDIS_URL", "redis://127.0.0.1:1/0", "Redis"),
        ("JOBDESK_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/jobdesk", "PostgreSQL"),
    ],
)
def test_serve_names_an_unreachable_dependency_in_one_line(
    settings, monkeypatch, capsys, variable, value, names
):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", "0", "--ws-port", "0", "--workers", "0"])
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and names in lines[0] and "Traceback" not in lines[0], lines


def test_serve_reports_a_port_in_use(settings, capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as info:
            main(["serve", "--port", str(port), "--ws-port", "0", "--workers", "0"])
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"cannot listen on 127.0.0.1:{port}" in lines[0], lines
    with pytest.raises(SystemExit):
        main(["serve", "--port", "70000"])
    assert "--port must be between 0 and 65535" in capsys.readouterr().err
