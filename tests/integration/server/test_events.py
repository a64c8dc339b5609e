"""Job events as real workers run the jobs, and a client of the original API.

One worker process serves the whole module (starting one costs seconds).

The last test is a client written for the original design
(seed/background-jobs-system.md): its paths and methods, request body, query
string, WebSocket URL, event names and subscribe messages all come from that
document's examples. The only change is the one the contract makes: a token
(`?token=` / `Authorization: Bearer`) where the original passed `?userId=`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from tests.integration.server.conftest import create, events_until, ws_connect

pytestmark = pytest.mark.slow

_RANK = {"pending": 0, "active": 1, "completed": 2, "failed": 2, "cancelled": 2}


def _final(name: str):
    return lambda msg: msg["event"] == name


async def test_event_order_for_one_job(server, http, people, live_workers):
    alice = people["alice"]
    async with ws_connect(server, alice) as ws:
        job = await create(http, alice, type="test.sleep", data={"seconds": 0.6, "steps": 3})
        events = await events_until(ws, _final("job-completed"), job_id=job["id"])
    names = [e["event"] for e in events]
    assert names[0] == "job-created" and names[-1] == "job-completed", names
    assert set(names[1:-1]) == {"job-update"}, names
    statuses = [e["data"]["status"] for e in events]
    assert statuses == sorted(statuses, key=_RANK.__getitem__), statuses  # never backwards
    assert "active" in statuses
    progress = [e["data"]["progress"]["current"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 3
    assert events[-1]["data"]["result"] == {"steps": 3}
    assert events[-1]["data"]["progress"]["percentage"] == 100.0


async def test_cancelling_an_active_job(server, http, people, live_workers):
    alice = people["alice"]
    async with ws_connect(server, alice) as ws:
        job = await create(http, alice, type="test.sleep", data={"seconds": 30, "steps": 300})
        await events_until(ws, lambda m: m["data"]["status"] == "active", job_id=job["id"])
        r = await http.patch(f"/api/jobs/{job['id']}/cancel", headers=alice.headers)
        assert r.status_code == 200
        assert r.json()["status"] == "cancelled" or r.json()["cancelRequested"] is True
        events = await events_until(ws, _final("job-cancelled"), timeout=5, job_id=job["id"])
    assert events[-1]["data"]["status"] == "cancelled"
    r = await http.patch(f"/api/jobs/{job['id']}/cancel", headers=alice.headers)
    assert r.status_code == 409


async def test_a_failure_then_a_retry(server, http, people, live_workers):
    alice = people["alice"]
    async with ws_connect(server, alice) as ws:
        job = await create(http, alice, type="test.fail", maxAttempts=1)
        events = await events_until(ws, _final("job-failed"), job_id=job["id"])
        failed = events[-1]["data"]
        assert failed["status"] == "failed" and failed["attempts"] == 1
        assert "failure on attempt 1" in failed["error"]["message"] and failed["error"]["stack"]

        r = await http.post(f"/api/jobs/{job['id']}/retry", headers=alice.headers)
        assert r.status_code == 200 and r.json()["status"] == "pending"
        events = await events_until(ws, _final("job-failed"), job_id=job["id"])
    assert events[0]["event"] == "job-update" and events[0]["data"]["status"] == "pending"
    assert events[-1]["data"]["error"]["message"] == failed["error"]["message"]
    assert events[-1]["data"]["startedAt"] > failed["startedAt"]  # it ran again


# -- a client of the original API ---------------------------------------------------------


class OriginalClient:
    """The calls the original document lists under "API Endpoints" and "WebSocket Events"."""

    def __init__(self, api: str, ws: str, token: str) -> None:
        self.http = httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {token}"})
        self.ws_url = f"{ws}?token={token}"  # was: ws://localhost:3001/jobs?userId=<userId>

    async def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        r = await self.http.post("/api/jobs", json=body)
        r.raise_for_status()
        return r.json()

    async def get_job(self, job_id: str) -> dict[str, Any]:
        return (await self.http.get(f"/api/jobs/{job_id}")).json()

    async def list_jobs(self, query: str) -> dict[str, Any]:
        return (await self.http.get(f"/api/jobs?{query}")).json()

    async def cancel_job(self, job_id: str) -> httpx.Response:
        return await self.http.patch(f"/api/jobs/{job_id}/cancel")

    async def retry_job(self, job_id: str) -> httpx.Response:
        return await self.http.post(f"/api/jobs/{job_id}/retry")

    async def stats(self) -> dict[str, Any]:
        return (await self.http.get("/api/jobs/stats")).json()


async def follow(ws: Any, job_id: str, until: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """What a useJobProgress hook does: keep this job's events, up to a final one."""
    seen = []
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 30))
        event, data = message["event"], message["data"]
        if isinstance(data, dict) and data.get("id") == job_id:
            seen.append((event, data))
            if event in until:
                return seen


async def test_a_client_of_the_original_api(server, people, settings, live_workers):
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    csv = settings.data_dir / "customers.csv"
    csv.write_text("id,name,email\n" + "".join(f"{i},Customer {i},c{i}@example.com\n" for i in range(500)))
    client = OriginalClient(server.api_url, server.ws_url, people["alice"].token)

    async with websockets.connect(client.ws_url) as ws:
        # "Create Job", with the document's body: type, name, description, data, priority.
        job = await client.create_job(
            {
                "type": "data-conversion",
                "name": "Convert CSV to JSONL",
                "description": "Converting customer data",
                "data": {"filePath": str(csv), "outputFormat": "jsonl"},
                "priority": 1,
                "maxAttempts": 3,
            }
        )
        job_id = job["id"]  # "Return job ID to client"
        await ws.send(json.dumps({"event": "subscribe-job", "data": {"jobId": job_id}}))
        seen = await follow(ws, job_id, until={"job-completed", "job-failed"})

        # "Events Received": job-created, job-update (status or progress), job-completed.
        names = [event for event, _ in seen]
        assert names[0] == "job-created" and names[-1] == "job-completed", names
        assert "job-update" in names
        final = seen[-1][1]
        assert final["status"] == "completed" and final["progress"]["percentage"] == 100
        assert final["result"]["rowsWritten"] == 500

        # "Get Job", "List Jobs" with the document's query string, "Get Statistics".
        assert (await client.get_job(job_id))["status"] == "completed"
        page = await client.list_jobs("type=data-conversion&status=completed&limit=20&offset=0")
        assert job_id in [j["id"] for j in page["items"]]
        stats = await client.stats()
        assert stats["byType"]["data-conversion"]["completed"] >= 1
        assert 0 <= stats["successRate"] <= 1 and 0 <= stats["failureRate"] <= 1

        # A job that fails: job-failed, with error {message, stack}; then "Retry Job".
        broken = await client.create_job(
            {"type": "data-conversion", "name": "Missing file", "data": {"filePath": "nope.csv",
             "outputFormat": "json"}, "maxAttempts": 1}
        )  # fmt: skip
        seen = await follow(ws, broken["id"], until={"job-completed", "job-failed"})
        assert seen[-1][0] == "job-failed"
        assert seen[-1][1]["error"]["message"] and "stack" in seen[-1][1]["error"]
        retried = await client.retry_job(broken["id"])
        assert retried.status_code == 200 and retried.json()["status"] == "pending"

        # "Cancel Job" on a finished job is refused, in the contract's error shape.
        refused = await client.cancel_job(job_id)
        assert refused.status_code == 409 and refused.json()["error"]["code"]

        # "Events Sent": unsubscribe-job is accepted.
        await ws.send(json.dumps({"event": "unsubscribe-job", "data": {"jobId": job_id}}))
    await client.http.aclose()
