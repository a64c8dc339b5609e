"""Tenant isolation: every endpoint by {same organization, another organization, admin}.

alice (org-a) owns the job. amos is in org-a too, bob in org-b, root an admin.
Another organization's job must look exactly like a job that does not exist.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.server.conftest import create, events_until, next_reply, ws_connect

SEES = {"alice": True, "amos": True, "bob": False, "root": True}
ACTORS = list(SEES)


async def _alices_job(http, people, **spec):
    return await create(http, people["alice"], runAt="2099-01-01T00:00:00Z", **spec)


@pytest.mark.parametrize("actor", ACTORS)
async def test_get(http, people, clean, actor):
    job = await _alices_job(http, people)
    r = await http.get(f"/api/jobs/{job['id']}", headers=people[actor].headers)
    if SEES[actor]:
        assert r.status_code == 200 and r.json()["id"] == job["id"]
    else:
        assert r.status_code == 404 and r.json()["error"]["code"] == "job_not_found"


@pytest.mark.parametrize("actor", ACTORS)
async def test_cancel(http, people, clean, actor):
    job = await _alices_job(http, people)
    r = await http.patch(f"/api/jobs/{job['id']}/cancel", headers=people[actor].headers)
    assert r.status_code == (200 if SEES[actor] else 404), r.text
    after = (await http.get(f"/api/jobs/{job['id']}", headers=people["alice"].headers)).json()
    assert after["status"] == ("cancelled" if SEES[actor] else "pending")


@pytest.mark.parametrize("actor", ACTORS)
async def test_retry(http, people, clean, actor):
    job = await _alices_job(http, people)
    await http.patch(f"/api/jobs/{job['id']}/cancel", headers=people["alice"].headers)
    r = await http.post(f"/api/jobs/{job['id']}/retry", headers=people[actor].headers)
    assert r.status_code == (200 if SEES[actor] else 404), r.text
    # On a job that cannot be retried, another organization still gets 404, not 409.
    r = await http.post(f"/api/jobs/{job['id']}/retry", headers=people[actor].headers)
    assert r.status_code == (409 if SEES[actor] else 404), r.text


@pytest.mark.parametrize("actor", ACTORS)
async def test_list_stats_and_queues(http, people, clean, actor):
    job = await _alices_job(http, people, type="test.record")
    h = people[actor].headers
    listed = (await http.get("/api/jobs", headers=h)).json()
    assert (job["id"] in {j["id"] for j in listed["items"]}) is SEES[actor]
    filtered = (await http.get(f"/api/jobs?search={job['id'][:8]}", headers=h)).json()
    assert filtered["total"] == (1 if SEES[actor] else 0)
    stats = (await http.get("/api/jobs/stats", headers=h)).json()
    assert stats["total"] == (1 if SEES[actor] else 0)
    assert ("test.record" in stats["byType"]) is SEES[actor]
    queues = {q["name"]: q for q in (await http.get("/api/queues", headers=h)).json()}
    assert queues["test"]["pending"] == (1 if SEES[actor] else 0)


@pytest.mark.parametrize("actor", ACTORS)
async def test_batch_lists(http, people, clean, actor):
    r = await http.post(
        "/api/jobs/batch", json={"jobs": [{"type": "test.noop"}]}, headers=people["alice"].headers
    )
    batch = r.json()["batchId"]
    listed = (await http.get(f"/api/jobs?batchId={batch}", headers=people[actor].headers)).json()
    assert listed["total"] == (1 if SEES[actor] else 0)


@pytest.mark.parametrize("actor", ACTORS)
async def test_depends_on(http, people, clean, actor):
    job = await _alices_job(http, people)
    r = await http.post(
        "/api/jobs", json={"type": "test.noop", "dependsOn": [job["id"]]}, headers=people[actor].headers
    )
    # An admin's own jobs live in its own organization, so it too cannot depend on org-a's.
    same_org = people[actor].info.organization_id == "org-a"
    assert r.status_code == (201 if same_org else 422), r.text


@pytest.mark.parametrize("actor", ACTORS)
async def test_websocket_subscribe(server, http, people, clean, actor):
    job = await _alices_job(http, people)
    async with ws_connect(server, people[actor]) as ws:
        await ws.send(json.dumps({"event": "subscribe-job", "data": {"jobId": job["id"]}}))
        reply = await next_reply(ws)
        if SEES[actor]:
            assert reply["event"] == "subscribed"
            await http.patch(f"/api/jobs/{job['id']}/cancel", headers=people["alice"].headers)
            await events_until(ws, lambda m: m["event"] == "job-cancelled", job_id=job["id"])
        else:
            assert reply == {
                "event": "error",
                "data": {"message": f"job {job['id']} not found", "jobId": job["id"]},
            }


async def test_websocket_never_leaks_another_organizations_events(server, http, people, clean):
    async with ws_connect(server, people["bob"]) as ws:
        await ws.send(json.dumps({"event": "subscribe-all"}))
        assert (await next_reply(ws))["event"] == "subscribed"
        await _alices_job(http, people)
        await create(http, people["root"])  # the admin's own org, not bob's either
        mine = await create(http, people["bob"])
        events = await events_until(ws, lambda m: m["data"]["id"] == mine["id"])
        assert {m["data"]["organizationId"] for m in events} == {"org-b"}


async def test_workers_show_only_visible_current_jobs(http, people, clean, settings):
    from tests.support.workers import query

    job = await _alices_job(http, people)
    query(
        settings.database_url,
        "INSERT INTO workers (id, host, pid, queues, threads, current_jobs)"
        " VALUES ('w-test', 'h', 1, '{test}', 2, ARRAY[%s::uuid]) RETURNING id",
        (job["id"],),
    )
    for actor in ACTORS:
        workers = (await http.get("/api/workers", headers=people[actor].headers)).json()
        w = next(w for w in workers if w["id"] == "w-test")
        assert w["currentJobs"] == ([job["id"]] if SEES[actor] else [])
