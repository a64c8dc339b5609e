"""GET /api/jobs by cursor (keyset pagination) and list totals from the job-count rollup.

Jobs here are scheduled far in the future, so that nothing runs them and
every order's key stays put while a walk goes on.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from jobdesk.client.base import JobQuery
from jobdesk.client.rest import RestClient
from jobdesk.server.runtime import Server
from tests.integration.server.conftest import Who
from tests.integration.server.test_rest import assert_error
from tests.support.workers import query

LATER = "2990-01-01T00:00:00Z"


async def _create_batch(http: httpx.AsyncClient, who: Who, n: int, **spec: Any) -> list[dict[str, Any]]:
    """n jobs in one transaction: they share their created_at, so only the id orders them."""
    jobs = [{"type": "test.noop", "runAt": LATER, **spec} for _ in range(n)]
    r = await http.post("/api/jobs/batch", json={"jobs": jobs}, headers=who.headers)
    assert r.status_code == 201, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def _create_mixed(http: httpx.AsyncClient, who: Who, n: int, seed: int) -> list[str]:
    """Jobs one at a time, with priorities, names and types drawn at random (ties included)."""
    rng = random.Random(seed)
    ids = []
    for _ in range(n):
        body = {
            "type": rng.choice(["test.noop", "test.record"]),
            "name": f"job {rng.randint(0, 5)}",
            "priority": rng.randint(-2, 2),
            "runAt": LATER,
        }
        r = await http.post("/api/jobs", json=body, headers=who.headers)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


async def _walk(
    http: httpx.AsyncClient, who: Who, limit: int, **params: Any
) -> tuple[list[str], list[dict[str, Any]]]:
    """Every page of a list by cursor: the ids in order, and the pages' bodies."""
    ids: list[str] = []
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        args = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await http.get("/api/jobs", params=args, headers=who.headers)
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append(page)
        ids += [j["id"] for j in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            return ids, pages


ORDERS = [
    ("created", "true"),
    ("created", "false"),
    ("name", "false"),
    ("priority", "true"),
    ("type", "false"),
    ("status", "true"),
    ("progress", "true"),
    ("attempts", "false"),
    ("updated", "true"),
    ("queue", "false"),
]


@pytest.mark.parametrize(("order", "descending"), ORDERS)
async def test_cursor_walk_gives_every_job_once_while_jobs_are_created(
    http: httpx.AsyncClient, org: dict[str, Who], order: str, descending: str
):
    member = org["member"]
    before = [j["id"] for j in await _create_batch(http, member, 60)]
    before += await _create_mixed(http, member, 40, seed=len(order))
    stop = asyncio.Event()
    created: list[str] = []

    async def keep_creating() -> None:
        while not stop.is_set():
            created.extend(j["id"] for j in await _create_batch(http, member, 3))
            created.extend(await _create_mixed(http, member, 2, seed=len(created)))

    creator = asyncio.create_task(keep_creating())
    try:
        await asyncio.sleep(0.05)
        seen, pages = await _walk(http, member, 7, order=order, descending=descending)
    finally:
        stop.set()
        await creator
    assert len(seen) == len(set(seen)), "a job came twice"
    assert set(before) <= set(seen), f"{len(set(before) - set(seen))} jobs were skipped"
    assert set(seen) <= set(before) | set(created)
    assert created, "nothing was created during the walk"
    assert all(p["offset"] == 0 and p["limit"] == 7 for p in pages)
    assert all(len(p["items"]) == 7 for p in pages[:-1])


async def test_cursor_pages_follow_offset_pages(http: httpx.AsyncClient, org: dict[str, Who]):
    member = org["member"]
    await _create_batch(http, member, 30)
    await _create_mixed(http, member, 15, seed=1)
    by_offset = []
    for offset in range(0, 45, 10):
        r = await http.get("/api/jobs", params={"limit": 10, "offset": offset}, headers=member.headers)
        by_offset += [j["id"] for j in r.json()["items"]]
    by_cursor, pages = await _walk(http, member, 10)
    assert by_cursor == by_offset and len(by_cursor) == 45
    assert [p["total"] for p in pages] == [45] * 5
    assert pages[-1]["nextCursor"] is None and len(pages[-1]["items"]) == 5
    # A page that happens to end the list says so: no cursor to an empty page.
    r = await http.get("/api/jobs", params={"limit": 45}, headers=member.headers)
    assert r.json()["nextCursor"] is None
    # An offset page hands out a cursor too: the next pages can come by cursor.
    r = await http.get("/api/jobs", params={"limit": 10, "offset": 20}, headers=member.headers)
    rest, _ = await _walk_from(http, member, r.json()["nextCursor"])
    assert [j["id"] for j in r.json()["items"]] + rest == by_offset[20:]


async def _walk_from(http: httpx.AsyncClient, who: Who, cursor: str | None) -> tuple[list[str], int]:
    ids: list[str] = []
    pages = 0
    while cursor:
        page = (
            await http.get("/api/jobs", params={"limit": 10, "cursor": cursor}, headers=who.headers)
        ).json()
        ids += [j["id"] for j in page["items"]]
        cursor = page["nextCursor"]
        pages += 1
    return ids, pages


async def test_cursor_keeps_the_filter_and_sees_only_the_callers_jobs(
    http: httpx.AsyncClient, org: dict[str, Who], people: dict[str, Who], settings
):
    member = org["member"]
    mine = await _create_mixed(http, member, 25, seed=5)
    await _create_mixed(http, people["bob"], 10, seed=6)
    seen, pages = await _walk(http, member, 4, type="test.record")
    sql = "SELECT id FROM jobs WHERE organization_id = %s AND type = 'test.record'"
    records = {str(r[0]) for r in query(settings.database_url, sql, (member.info.organization_id,))}
    assert set(seen) == records and len(seen) == len(records) and set(seen) <= set(mine)
    assert all(p["total"] == len(records) for p in pages)


async def test_bad_cursors_are_refused(http: httpx.AsyncClient, org: dict[str, Who]):
    member = org["member"]
    await _create_batch(http, member, 5)
    first = (await http.get("/api/jobs", params={"limit": 2}, headers=member.headers)).json()
    cursor = first["nextCursor"]
    assert isinstance(cursor, str) and cursor
    for params in (
        {"cursor": "not-a-cursor"},
        {"cursor": "W10"},  # base64 of [], well formed but not a position
        {"cursor": cursor, "offset": 5},
        {"cursor": cursor, "order": "name"},
        {"cursor": cursor, "descending": "false"},
        {"cursor": "x" * 1001},
    ):
        assert_error(await http.get("/api/jobs", params=params, headers=member.headers), 422, "invalid_input")
    r = await http.get("/api/jobs", params={"cursor": cursor, "limit": 2}, headers=member.headers)
    assert r.status_code == 200 and len(r.json()["items"]) == 2


async def test_totals_from_the_rollup_match_the_table(http: httpx.AsyncClient, org: dict[str, Who], settings):
    member, admin = org["member"], org["admin"]
    batch = await _create_batch(http, member, 12)
    await _create_mixed(http, member, 20, seed=9)
    cancelled = batch[:3]
    for j in cancelled:
        assert (await http.patch(f"/api/jobs/{j['id']}/cancel", headers=member.headers)).status_code == 200
    orgid = member.info.organization_id

    def exact(where: str, *args: Any) -> int:
        sql = f"SELECT count(*) FROM jobs WHERE organization_id = %s AND {where}"
        return int(query(settings.database_url, sql, (orgid, *args))[0][0])

    cases: list[tuple[dict[str, Any], int]] = [
        ({}, exact("TRUE")),
        ({"status": "cancelled"}, 3),
        ({"status": "pending"}, exact("status = 'pending'")),
        ({"type": "test.record"}, exact("type = 'test.record'")),
        ({"type": "test.noop", "status": "pending"}, exact("type = 'test.noop' AND status = 'pending'")),
        ({"queue": "test"}, exact("queue = 'test'")),
        ({"search": "job 1"}, exact("name ILIKE '%%job 1%%'")),  # not in the rollup: counted exactly
        ({"batchId": batch[0]["batchId"]}, 12),
        ({"type": "no.such.type"}, 0),
    ]
    for params, want in cases:
        r = await http.get("/api/jobs", params={**params, "limit": 1}, headers=member.headers)
        assert r.status_code == 200, r.text
        assert r.json()["total"] == want, params
    everyone = await http.get("/api/jobs", params={"limit": 1}, headers=admin.headers)
    assert everyone.json()["total"] == int(query(settings.database_url, "SELECT count(*) FROM jobs")[0][0])
    stats = (await http.get("/api/jobs/stats", headers=member.headers)).json()
    assert stats["total"] == exact("TRUE") and stats["byStatus"]["cancelled"] == 3


async def test_openapi_documents_the_cursor(http: httpx.AsyncClient):
    doc = (await http.get("/api/openapi.json")).json()
    params = {p["name"] for p in doc["paths"]["/api/jobs"]["get"]["parameters"]}
    assert {"cursor", "offset", "limit"} <= params
    assert "nextCursor" in doc["components"]["schemas"]["PageOut"]["properties"]


async def test_rest_client_pages_by_cursor(server: Server, http: httpx.AsyncClient, org: dict[str, Who]):
    member = org["member"]
    made = {j["id"] for j in await _create_batch(http, member, 23)}
    client = RestClient(server.api_url, member.token, ws_url=server.ws_url)
    try:
        seen: list[str] = []
        page = await client.list_jobs(JobQuery(), limit=5)
        while True:
            seen += [j.id for j in page.items]
            assert page.total == 23
            if page.next_cursor is None:
                break
            page = await client.list_jobs(JobQuery(), limit=5, cursor=page.next_cursor)
        assert len(seen) == 23 and set(seen) == made
    finally:
        await client.close()
