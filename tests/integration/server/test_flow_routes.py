"""Batches, dead letters, rate limits and 'why waiting' over REST, and batch-completed over the WebSocket.

Each test makes an organization of its own (see `org`), so that counts of
"all my failed jobs" are exact without emptying tables under the module's worker.
"""

from __future__ import annotations

import uuid

import pytest

from tests.integration.server.conftest import create, next_event, wait_job, ws_connect
from tests.integration.server.test_rest import assert_error

# -- batches ---------------------------------------------------------------------------------


async def test_batch_summary_and_batch_completed_event(server, http, people, org, live_workers):
    member, outsider = org["member"], people["bob"]
    async with (
        ws_connect(server, member) as mine,
        ws_connect(server, outsider) as theirs,
        ws_connect(server, people["root"]) as admin,
    ):
        r = await http.post(
            "/api/jobs/batch",
            json={"jobs": [{"type": "test.noop"}, {"type": "test.sleep", "data": {"seconds": 0.2}}]},
            headers=member.headers,
        )
        assert r.status_code == 201, r.text
        batch_id = r.json()["batchId"]
        assert batch_id and r.json()["count"] == 2
        assert all(j["batchId"] == batch_id for j in r.json()["items"])

        summary = (await http.get(f"/api/batches/{batch_id}", headers=member.headers)).json()
        assert summary["id"] == batch_id and summary["total"] == 2
        assert summary["organizationId"] == member.info.organization_id
        assert set(summary["byStatus"]) == {"pending", "active", "completed", "failed", "cancelled"}

        for ws in (mine, admin):
            msg = await _batch_event(ws, batch_id)
            assert msg["data"]["byStatus"]["completed"] == 2 and msg["data"]["percentage"] == 100
            assert msg["data"]["completedAt"]
        # Another organization's connection heard nothing of it before its pong.
        await theirs.send('{"event": "ping"}')
        while (msg := await next_event(theirs))["event"] != "pong":
            assert msg["event"] != "batch-completed", msg

    done = (await http.get(f"/api/batches/{batch_id}", headers=people["root"].headers)).json()
    assert done["completedAt"] and done["byStatus"]["completed"] == 2
    assert_error(await http.get(f"/api/batches/{batch_id}", headers=outsider.headers), 404)
    assert_error(await http.get(f"/api/batches/{uuid.uuid4()}", headers=member.headers), 404)
    assert_error(await http.get("/api/batches/not-a-uuid", headers=member.headers), 404)


async def _batch_event(ws, batch_id: str) -> dict:
    """Its batch-completed; an admin may hear of other batches (earlier modules' jobs finishing)."""
    while True:
        msg = await next_event(ws, timeout=45)
        if msg["event"] == "batch-completed" and msg["data"]["id"] == batch_id:
            return msg


# -- dead letters ----------------------------------------------------------------------------


async def test_dead_letters_list_requeue_and_purge(http, people, org, live_workers):
    member, colleague, outsider = org["member"], org["colleague"], people["bob"]
    failed = [await create(http, member, type="test.fail", maxAttempts=1) for _ in range(3)]
    ok = await create(http, member)
    for job in failed:
        await wait_job(http, member, job["id"], {"failed"})
    await wait_job(http, member, ok["id"], {"completed"})

    page = (await http.get("/api/dead-letters", headers=member.headers)).json()
    assert page["total"] == 3 and {j["id"] for j in page["items"]} == {j["id"] for j in failed}
    assert all(j["error"]["message"] for j in page["items"])
    assert (await http.get("/api/dead-letters?type=test.noop", headers=member.headers)).json()["total"] == 0
    one = (await http.get("/api/dead-letters?limit=1&offset=1", headers=member.headers)).json()
    assert len(one["items"]) == 1 and one["limit"] == 1 and one["offset"] == 1
    theirs = (await http.get("/api/dead-letters?limit=100", headers=outsider.headers)).json()["items"]
    assert all(j["organizationId"] == "org-b" for j in theirs)

    # Another organization can neither requeue nor purge them, by id or wholesale.
    ids = [j["id"] for j in failed]
    r = await http.post("/api/dead-letters/requeue", json={"ids": ids}, headers=outsider.headers)
    assert r.status_code == 200 and r.json() == {"requeued": 0}
    r = await http.post("/api/dead-letters/purge", json={"ids": ids}, headers=outsider.headers)
    assert r.status_code == 200 and r.json() == {"purged": 0}

    # One by id: it runs again (and fails again).
    r = await http.post("/api/dead-letters/requeue", json={"ids": [ids[0]]}, headers=colleague.headers)
    assert r.status_code == 200 and r.json() == {"requeued": 1}
    again = await wait_job(http, member, ids[0], {"failed"})
    assert again["attempts"] == 1

    # The rest of the organization's, of a type: all three; then purge them.
    r = await http.post("/api/dead-letters/purge", json={"type": "test.noop"}, headers=member.headers)
    assert r.json() == {"purged": 0}
    r = await http.post("/api/dead-letters/purge", json={}, headers=member.headers)
    assert r.status_code == 200 and r.json() == {"purged": 3}
    assert_error(await http.get(f"/api/jobs/{ids[1]}", headers=member.headers), 404)
    assert (await http.get(f"/api/jobs/{ok['id']}", headers=member.headers)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{"ids": []}, {"ids": ["not-an-id"]}, {"ids": "x"}, {"type": ""}, {"other": 1}, [1], {"ids": [None]}],
)
async def test_dead_letter_bodies_are_checked(http, org, body):
    for action in ("requeue", "purge"):
        r = await http.post(f"/api/dead-letters/{action}", json=body, headers=org["member"].headers)
        assert_error(r, 422)


async def test_dead_letters_need_a_token(http):
    assert_error(await http.get("/api/dead-letters"), 401)
    assert_error(await http.post("/api/dead-letters/purge", json={}), 401)


# -- rate limits -------------------------------------------------------------------------------


async def test_rate_limits_admin_writes_members_read(http, people, org):
    admin, member = people["root"], org["member"]
    kind = f"test.limited-{uuid.uuid4().hex[:8]}"
    own_org, other_org = member.info.organization_id, f"elsewhere-{uuid.uuid4().hex[:8]}"
    try:
        r = await http.put(f"/api/rate-limits/type/{kind}", json={"perSecond": 2.5}, headers=admin.headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"scope": "type", "key": kind, "perSecond": 2.5, "maxConcurrent": None}
        r = await http.put(
            f"/api/rate-limits/type/{kind}", json={"maxConcurrent": 3}, headers=admin.headers
        )  # replaces
        assert r.json()["maxConcurrent"] == 3 and r.json()["perSecond"] is None
        for key in (own_org, other_org):
            r = await http.put(
                f"/api/rate-limits/organization/{key}", json={"maxConcurrent": 1}, headers=admin.headers
            )
            assert r.status_code == 200, r.text

        seen = await limits_seen(http, admin)
        assert {("type", kind), ("organization", own_org), ("organization", other_org)} <= seen
        # A member sees type limits and its own organization's, not other organizations' ids.
        seen = await limits_seen(http, member)
        assert {("type", kind), ("organization", own_org)} <= seen
        assert ("organization", other_org) not in seen

        assert_error(
            await http.put(f"/api/rate-limits/type/{kind}", json={"perSecond": 1}, headers=member.headers),
            403,
        )
        assert_error(await http.delete(f"/api/rate-limits/type/{kind}", headers=member.headers), 403)
        for body in ({}, {"perSecond": 0}, {"perSecond": -1}, {"maxConcurrent": 0}, {"maxConcurrent": 1.5},
                     {"rate": 1}, {"perSecond": "fast"}):  # fmt: skip
            r = await http.put(f"/api/rate-limits/type/{kind}", json=body, headers=admin.headers)
            assert_error(r, 422)
        assert_error(
            await http.put("/api/rate-limits/queue/x", json={"perSecond": 1}, headers=admin.headers), 422
        )
    finally:
        for scope, key in (("type", kind), ("organization", own_org), ("organization", other_org)):
            r = await http.delete(f"/api/rate-limits/{scope}/{key}", headers=admin.headers)
            assert r.status_code == 204, r.text
    assert_error(await http.delete(f"/api/rate-limits/type/{kind}", headers=admin.headers), 404)


async def limits_seen(http, who) -> set[tuple[str, str]]:
    r = await http.get("/api/rate-limits", headers=who.headers)
    assert r.status_code == 200, r.text
    return {(x["scope"], x["key"]) for x in r.json()}


# -- why -------------------------------------------------------------------------------------


async def test_why_a_job_waits(http, people, org):
    member = org["member"]
    later = await create(http, member, runAt="2999-01-01T00:00:00Z")
    why = (await http.get(f"/api/jobs/{later['id']}/why", headers=member.headers)).json()
    assert why["jobId"] == later["id"] and why["status"] == "pending" and why["waiting"] is True
    kinds = {r["kind"] for r in why["reasons"]}
    assert "scheduled" in kinds, why
    assert all(r["message"] for r in why["reasons"])
    # Admins see any; another organization gets the same 404 as for a missing job.
    assert (await http.get(f"/api/jobs/{later['id']}/why", headers=people["root"].headers)).status_code == 200
    assert_error(await http.get(f"/api/jobs/{later['id']}/why", headers=people["bob"].headers), 404)
    assert_error(await http.get(f"/api/jobs/{uuid.uuid4()}/why", headers=member.headers), 404)
    await http.patch(f"/api/jobs/{later['id']}/cancel", headers=member.headers)
    done = (await http.get(f"/api/jobs/{later['id']}/why", headers=member.headers)).json()
    assert done == {"jobId": later["id"], "status": "cancelled", "waiting": False, "reasons": []}
