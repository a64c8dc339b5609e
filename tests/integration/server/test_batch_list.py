"""`GET /api/batches`: the console's Batches tab reads it; each organization sees its own."""

from __future__ import annotations

from tests.integration.server.conftest import wait_job
from tests.support.asserts import eventually


async def test_batches_are_listed_newest_first_per_organization(http, people, org):
    member, outsider, admin = org["member"], people["bob"], people["root"]
    made = []
    for n in (2, 3):
        r = await http.post(
            "/api/jobs/batch",
            json={"jobs": [{"type": "test.noop", "runAt": "2099-01-01T00:00:00Z"}] * n},
            headers=member.headers,
        )
        assert r.status_code == 201, r.text
        made.append(r.json()["batchId"])

    page = (await http.get("/api/batches", headers=member.headers)).json()
    assert page["total"] == 2 and page["limit"] == 20 and page["offset"] == 0
    assert [b["id"] for b in page["items"]] == made[::-1]
    newest = page["items"][0]
    assert newest["total"] == 3 and newest["byStatus"]["pending"] == 3 and newest["percentage"] == 0
    assert newest["organizationId"] == member.info.organization_id and newest["completedAt"] is None

    one = (await http.get("/api/batches?limit=1&offset=1", headers=member.headers)).json()
    assert [b["id"] for b in one["items"]] == [made[0]] and one["total"] == 2
    theirs = (await http.get("/api/batches", headers=outsider.headers)).json()
    assert not set(made) & {b["id"] for b in theirs["items"]}
    everyone = (await http.get("/api/batches?limit=500", headers=admin.headers)).json()
    assert set(made) <= {b["id"] for b in everyone["items"]}

    # A finished batch leaves `open=true`; its jobs are `GET /api/jobs?batchId=`.
    jobs = (await http.get(f"/api/jobs?batchId={made[0]}", headers=member.headers)).json()
    assert jobs["total"] == 2
    for job in jobs["items"]:
        r = await http.patch(f"/api/jobs/{job['id']}/cancel", headers=member.headers)
        assert r.status_code == 200, r.text
        await wait_job(http, member, job["id"], {"cancelled"})

    async def open_ones():
        page = (await http.get("/api/batches?open=true", headers=member.headers)).json()
        return page if page["total"] == 1 else None

    open_only = await eventually(open_ones, timeout=30, what="the cancelled batch to be marked finished")
    assert [b["id"] for b in open_only["items"]] == [made[1]]
    done = (await http.get("/api/batches", headers=member.headers)).json()["items"][1]
    assert done["byStatus"]["cancelled"] == 2 and done["percentage"] == 100


async def test_the_openapi_document_has_the_batch_list(http):
    doc = (await http.get("/api/openapi.json")).json()
    params = {p["name"] for p in doc["paths"]["/api/batches"]["get"]["parameters"]}
    assert {"open", "limit", "offset"} <= params
