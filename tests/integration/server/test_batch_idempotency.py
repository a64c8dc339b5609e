"""POST /api/jobs/batch with idempotency keys: the single create's rule, per item, in one transaction.

A fuzz run once got a 500 here: a spec's key that another job already held
broke the batch's unique index instead of naming that job.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import psycopg

from jobdesk.config import Settings
from tests.integration.server.conftest import Who, create
from tests.integration.server.test_rest import assert_error

LATER = "2990-01-01T00:00:00Z"  # nothing runs these jobs


def _key() -> str:
    return f"k-{uuid.uuid4().hex[:10]}"


async def _batch(http: httpx.AsyncClient, who: Who, specs: list[dict[str, Any]]) -> httpx.Response:
    jobs = [{"type": "test.noop", "runAt": LATER, **s} for s in specs]
    return await http.post("/api/jobs/batch", json={"jobs": jobs}, headers=who.headers)


async def _ok(http: httpx.AsyncClient, who: Who, specs: list[dict[str, Any]]) -> dict[str, Any]:
    r = await _batch(http, who, specs)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _rows(settings: Settings, org: str, sql: str = "", *args: Any) -> list[dict[str, Any]]:
    with psycopg.connect(settings.database_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "SELECT id::text, idempotency_key, batch_id::text, name FROM jobs"
            f" WHERE organization_id = %s {sql} ORDER BY created_at, id",
            (org, *args),
        ).fetchall()


async def test_a_key_held_by_an_existing_job_returns_that_job(
    http: httpx.AsyncClient, org: dict[str, Who], settings: Settings
):
    member, colleague = org["member"], org["colleague"]
    key = _key()
    existing = await create(http, member, idempotencyKey=key, name="the first", runAt=LATER)

    body = await _ok(
        http, colleague, [{"name": "a"}, {"name": "again", "idempotencyKey": key}, {"name": "c"}]
    )
    items = body["items"]
    assert body["count"] == 3 and len(items) == 3 and body["created"] == 2
    assert items[1] == (await http.get(f"/api/jobs/{existing['id']}", headers=member.headers)).json()
    assert items[1]["name"] == "the first" and items[1]["batchId"] is None  # left as it was
    assert [items[0]["name"], items[2]["name"]] == ["a", "c"]
    assert items[0]["batchId"] == items[2]["batchId"] == body["batchId"]
    assert len(_rows(settings, member.info.organization_id)) == 3  # the first, a and c: nothing twice

    summary = (await http.get(f"/api/batches/{body['batchId']}", headers=member.headers)).json()
    assert summary["total"] == 2 and summary["byStatus"]["pending"] == 2
    listed = (await http.get("/api/jobs", params={"batchId": body["batchId"]}, headers=member.headers)).json()
    assert {j["id"] for j in listed["items"]} == {items[0]["id"], items[2]["id"]}

    # The single create still answers with the same job for the key.
    assert (await create(http, member, idempotencyKey=key))["id"] == existing["id"]


async def test_a_key_twice_in_one_batch_names_one_job(
    http: httpx.AsyncClient, org: dict[str, Who], settings: Settings
):
    member = org["member"]
    key, other = _key(), _key()
    specs = [
        {"name": "first", "idempotencyKey": key},
        {"name": "plain"},
        {"name": "second", "idempotencyKey": key, "priority": 9},
        {"name": "other", "idempotencyKey": other},
        {"name": "third", "idempotencyKey": key},
    ]
    body = await _ok(http, member, specs)
    items = body["items"]
    assert body["count"] == 5 and body["created"] == 3
    assert items[0]["id"] == items[2]["id"] == items[4]["id"]
    assert items[2]["name"] == "first" and items[2]["priority"] == 0  # made from the first spec
    assert len({items[0]["id"], items[1]["id"], items[3]["id"]}) == 3
    rows = _rows(settings, member.info.organization_id)
    assert sorted(r["name"] for r in rows) == ["first", "other", "plain"]
    assert {r["batch_id"] for r in rows} == {body["batchId"]}

    # The whole batch sent again gets the same jobs back, and stores nothing.
    again = await _ok(http, member, specs[:1] + specs[2:])
    assert again["batchId"] is None and again["created"] == 0 and again["count"] == 4
    assert [j["id"] for j in again["items"]] == [
        items[0]["id"],
        items[0]["id"],
        items[3]["id"],
        items[0]["id"],
    ]
    assert len(_rows(settings, member.info.organization_id)) == 3
    with psycopg.connect(settings.database_url) as conn:
        (batches,) = conn.execute(
            "SELECT count(*) FROM batches WHERE organization_id = %s", (member.info.organization_id,)
        ).fetchone()
    assert batches == 1


async def test_keys_are_per_organization(
    http: httpx.AsyncClient, org: dict[str, Who], people: dict[str, Who]
):
    key = _key()
    mine = await _ok(http, org["member"], [{"idempotencyKey": key}])
    theirs = await _ok(http, people["bob"], [{"idempotencyKey": key}])
    assert theirs["created"] == 1 and theirs["items"][0]["id"] != mine["items"][0]["id"]


async def test_a_key_older_than_a_day_names_a_new_job(
    http: httpx.AsyncClient, org: dict[str, Who], settings: Settings
):
    member = org["member"]
    key = _key()
    old = await create(http, member, idempotencyKey=key, runAt=LATER)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE jobs SET created_at = now() - interval '25 hours' WHERE id = %s", (old["id"],))
    body = await _ok(http, member, [{"idempotencyKey": key}, {"idempotencyKey": key}])
    assert body["created"] == 1 and body["items"][0]["id"] == body["items"][1]["id"] != old["id"]
    keys = {r["id"]: r["idempotency_key"] for r in _rows(settings, member.info.organization_id)}
    assert keys == {old["id"]: None, body["items"][0]["id"]: key}


async def test_a_refused_batch_stores_nothing_and_releases_no_key(
    http: httpx.AsyncClient, org: dict[str, Who], settings: Settings
):
    member = org["member"]
    key, fresh = _key(), _key()
    old = await create(http, member, idempotencyKey=key, runAt=LATER)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE jobs SET created_at = now() - interval '25 hours' WHERE id = %s", (old["id"],))
    # The database refuses the last job (a NUL character): the stale key's release and
    # the jobs before it, keyed or not, all roll back with it.
    specs = [{"idempotencyKey": key}, {"idempotencyKey": fresh}, {"name": "x"}, {"data": {"s": "a\u0000b"}}]
    assert_error(await _batch(http, member, specs), 422)
    rows = _rows(settings, member.info.organization_id)
    assert [(r["id"], r["idempotency_key"]) for r in rows] == [(old["id"], key)]
    # The batch's key is still free: a later batch stores it.
    body = await _ok(http, member, specs[1:3])
    assert body["created"] == 2


async def test_concurrent_batches_sharing_keys_store_each_key_once(
    http: httpx.AsyncClient, org: dict[str, Who], settings: Settings
):
    member = org["member"]
    keys = [_key() for _ in range(6)]
    # Each batch names the keys in another order, with a keyless job between them.
    orders = [keys[i:] + keys[:i] for i in range(len(keys))] * 2
    answers = await asyncio.gather(
        *(_batch(http, member, [{"idempotencyKey": k} for k in ks] + [{}]) for ks in orders)
    )
    assert all(r.status_code == 201 for r in answers), [r.text for r in answers if r.status_code != 201]
    by_key: dict[str, set[str]] = {}
    for ks, r in zip(orders, answers, strict=True):
        for k, job in zip(ks, r.json()["items"], strict=False):
            by_key.setdefault(k, set()).add(job["id"])
    assert all(len(ids) == 1 for ids in by_key.values()), by_key
    rows = _rows(settings, member.info.organization_id, "AND idempotency_key IS NOT NULL")
    assert sorted(r["idempotency_key"] for r in rows) == sorted(keys)
    assert sum(r.json()["created"] for r in answers) == len(keys) + len(orders)
