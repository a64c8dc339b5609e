"""GET /api/dead-letters by cursor: the keyset pagination of GET /api/jobs, over failed jobs.

No worker runs here: jobs are created far in the future, then failed with a
plain UPDATE (the row a worker's last failed attempt leaves), so that which
jobs are failed, and when, is up to the test.
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from jobdesk.client.rest import RestClient
from jobdesk.config import Settings
from jobdesk.server.runtime import Server
from tests.integration.server.conftest import Who
from tests.integration.server.test_rest import assert_error

LATER = "2990-01-01T00:00:00Z"


async def _create(http: httpx.AsyncClient, who: Who, n: int, job_type: str = "test.noop") -> list[str]:
    """n jobs one at a time (each its own created_at), oldest first."""
    ids = []
    for i in range(n):
        body = {"type": job_type, "name": f"dl {i}", "runAt": LATER}
        r = await http.post("/api/jobs", json=body, headers=who.headers)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


async def _create_batch(http: httpx.AsyncClient, who: Who, n: int) -> list[str]:
    """n jobs in one transaction: one created_at, so only the id orders them."""
    jobs = [{"type": "test.noop", "runAt": LATER} for _ in range(n)]
    r = await http.post("/api/jobs/batch", json={"jobs": jobs}, headers=who.headers)
    assert r.status_code == 201, r.text
    return [j["id"] for j in r.json()["items"]]


def _fail(settings: Settings, ids: list[str]) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE jobs SET status = 'failed', attempts = max_attempts, completed_at = now(),"
            " error = jsonb_build_object('message', 'boom ' || name, 'stack', NULL)"
            " WHERE id = ANY(%s::uuid[])",
            (ids,),
        )


async def _walk(http: httpx.AsyncClient, who: Who, limit: int, **params: Any) -> list[dict[str, Any]]:
    pages = []
    cursor = None
    while True:
        args = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await http.get("/api/dead-letters", params=args, headers=who.headers)
        assert r.status_code == 200, r.text
        pages.append(r.json())
        assert len(pages) <= 50, "the cursor is not followed: the same page again and again"
        cursor = pages[-1]["nextCursor"]
        if cursor is None:
            return pages


async def test_dead_letters_walk_by_cursor(http: httpx.AsyncClient, org: dict[str, Who], settings: Settings):
    member = org["member"]
    failed = await _create(http, member, 9) + await _create_batch(http, member, 12)
    failed += await _create(http, member, 2, job_type="test.record")
    pending = await _create(http, member, 4)
    _fail(settings, failed)

    pages = await _walk(http, member, 5)
    seen = [j["id"] for p in pages for j in p["items"]]
    assert sorted(seen) == sorted(failed), "every failed job once, and nothing else"
    assert not set(seen) & set(pending)
    assert all(
        j["status"] == "failed" and j["error"]["message"].startswith("boom")
        for p in pages
        for j in p["items"]
    )
    assert [len(p["items"]) for p in pages] == [5, 5, 5, 5, 3]
    assert all(p["total"] == len(failed) and p["offset"] == 0 and p["limit"] == 5 for p in pages)

    # The same order as paging by offset: newest first, ties (one batch) by id.
    by_offset = []
    for offset in range(0, len(failed), 5):
        r = await http.get("/api/dead-letters", params={"limit": 5, "offset": offset}, headers=member.headers)
        by_offset += [j["id"] for j in r.json()["items"]]
    assert seen == by_offset

    # A filter by type walks the same way.
    typed = await _walk(http, member, 1, type="test.record")
    assert [j["id"] for p in typed for j in p["items"]] == failed[-1:-3:-1]

    # Jobs failing during a walk are newer than its cursor: nothing repeats or goes missing.
    first = (await http.get("/api/dead-letters", params={"limit": 4}, headers=member.headers)).json()
    late = await _create(http, member, 3)
    _fail(settings, late)
    rest = await _walk(http, member, 4, cursor=first["nextCursor"])
    walked = [j["id"] for j in first["items"]] + [j["id"] for p in rest for j in p["items"]]
    assert walked == seen
    assert rest[0]["total"] == len(failed) + len(late)


async def test_dead_letters_cursor_is_checked(
    http: httpx.AsyncClient, org: dict[str, Who], settings: Settings
):
    member = org["member"]
    ids = await _create(http, member, 3)
    _fail(settings, ids)
    page = (await http.get("/api/dead-letters", params={"limit": 1}, headers=member.headers)).json()
    cursor = page["nextCursor"]
    assert cursor

    bad = {"limit": 1, "cursor": cursor, "offset": 1}
    assert_error(await http.get("/api/dead-letters", params=bad, headers=member.headers), 422)
    bad = {"cursor": "not-a-cursor"}
    assert_error(await http.get("/api/dead-letters", params=bad, headers=member.headers), 422)
    by_name = (
        await http.get("/api/jobs", params={"limit": 1, "order": "name"}, headers=member.headers)
    ).json()
    bad = {"cursor": by_name["nextCursor"]}
    err = assert_error(await http.get("/api/dead-letters", params=bad, headers=member.headers), 422)
    assert "order=name" in err["message"]

    # The cursor is a position, not a session: an admin's token walks on from it over every organization.
    r = await http.get(
        "/api/dead-letters", params={"cursor": cursor, "limit": 2}, headers=org["admin"].headers
    )
    assert r.status_code == 200 and [j["id"] for j in r.json()["items"]] == ids[1::-1]


async def test_rest_client_pages_dead_letters_by_cursor(
    server: Server, org: dict[str, Who], http: httpx.AsyncClient, settings: Settings
):
    member = org["member"]
    ids = await _create(http, member, 5)
    _fail(settings, ids)
    client = RestClient(server.api_url, member.token, ws_url=server.ws_url)
    try:
        seen: list[str] = []
        cursor = None
        while True:
            page = await client.dead_letters(limit=2, cursor=cursor)
            seen += [j.id for j in page.items]
            assert len(seen) <= 10, "the cursor is not followed"
            cursor = page.next_cursor
            if cursor is None:
                break
    finally:
        await client.close()
    assert seen == ids[::-1]
