"""Every REST endpoint against a live server, over a real socket."""

from __future__ import annotations

import uuid

import httpx
import pytest

from jobdesk.service.jobs import LIST_LIMIT_MAX
from tests.integration.server.conftest import Who, create
from tests.support.workers import query

CONTRACT_JOB_FIELDS = {
    "id", "type", "name", "description", "queue", "status", "priority", "data", "progress", "result",
    "error", "attempts", "maxAttempts", "userId", "organizationId", "createdAt", "updatedAt",
    "startedAt", "completedAt",
}  # fmt: skip


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


# -- health and documents -------------------------------------------------------------------


async def test_health_needs_no_token(http):
    r = await http.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["postgres"]["ok"] is True and body["redis"]["ok"] is True
    assert isinstance(body["workers"]["live"], int)


async def test_openapi_lists_every_endpoint(http):
    r = await http.get("/api/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path, method in [
        ("/api/jobs", "post"),
        ("/api/jobs", "get"),
        ("/api/jobs/{id}", "get"),
        ("/api/jobs/{id}/cancel", "patch"),
        ("/api/jobs/{id}/retry", "post"),
        ("/api/jobs/stats", "get"),
        ("/api/jobs/batch", "post"),
        ("/api/health", "get"),
        ("/api/queues", "get"),
        ("/api/queues/{name}/pause", "post"),
        ("/api/queues/{name}/resume", "post"),
        ("/api/workers", "get"),
        ("/api/job-types", "get"),
    ]:
        assert method in paths.get(path, {}), (path, method)
    create_body = paths["/api/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create_body  # the JobSpec, camelCase


async def test_unknown_route_and_method_have_the_error_shape(http, people):
    assert_error(await http.get("/api/nothing-here", headers=people["alice"].headers), 404, "not_found")
    assert_error(await http.delete("/api/jobs", headers=people["alice"].headers), 405, "method_not_allowed")


# -- create, read, list ---------------------------------------------------------------------


async def test_create_get_and_list(http, people, clean):
    alice = people["alice"]
    job = await create(
        http, alice, type="test.sleep", name="sleepy", description="d", data={"seconds": 0}, priority=5
    )
    assert set(job) >= CONTRACT_JOB_FIELDS
    assert job["status"] == "pending" and job["priority"] == 5 and job["attempts"] == 0
    assert job["userId"] == "alice" and job["organizationId"] == "org-a"
    assert job["data"] == {"seconds": 0.0, "steps": 1}
    assert job["progress"] == {"current": 0, "total": 0, "percentage": 0.0, "message": None}

    r = await http.get(f"/api/jobs/{job['id']}", headers=alice.headers)
    assert r.status_code == 200 and r.json()["id"] == job["id"]

    second = await create(http, alice, name="second")
    r = await http.get("/api/jobs", headers=alice.headers)
    page = r.json()
    assert r.status_code == 200
    assert page["total"] == 2 and page["limit"] == 20 and page["offset"] == 0
    assert [j["id"] for j in page["items"]] == [second["id"], job["id"]]  # newest first

    r = await http.get("/api/jobs?type=test.sleep&status=pending&limit=1&offset=0", headers=alice.headers)
    assert [j["id"] for j in r.json()["items"]] == [job["id"]]
    r = await http.get("/api/jobs?limit=1&offset=1", headers=alice.headers)
    assert [j["id"] for j in r.json()["items"]] == [job["id"]]
    r = await http.get("/api/jobs?order=name&descending=false", headers=alice.headers)
    assert [j["name"] for j in r.json()["items"]] == ["second", "sleepy"]


async def test_list_limit_is_capped_not_refused(http, people):
    r = await http.get("/api/jobs?limit=100000", headers=people["alice"].headers)
    assert r.status_code == 200 and r.json()["limit"] == LIST_LIMIT_MAX
    assert_error(await http.get("/api/jobs?limit=0", headers=people["alice"].headers), 422)
    assert_error(await http.get("/api/jobs?offset=-1", headers=people["alice"].headers), 422)
    err = assert_error(await http.get("/api/jobs?status=sleeping", headers=people["alice"].headers), 422)
    assert "status" in err["message"]
    assert_error(await http.get("/api/jobs?order=nonsense", headers=people["alice"].headers), 422)


@pytest.mark.parametrize("field", ["status", "attempts", "result", "userId", "organizationId"])
async def test_fields_a_client_must_not_set_are_refused(http, people, field):
    body = {"type": "test.noop", field: "completed" if field == "status" else 7}
    r = await http.post("/api/jobs", json=body, headers=people["alice"].headers)
    err = assert_error(r, 422, "invalid_input")
    assert field in err["message"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"type": "no.such.type"}, 422, "unknown_job_type"),
        ({"type": "test.sleep", "data": {"seconds": "soon"}}, 422, "invalid_job_data"),
        ({"type": "test.noop", "priority": 10**6}, 422, "invalid_input"),
        ({"type": "test.noop", "maxAttempts": 0}, 422, "invalid_input"),
        ({"name": "no type"}, 422, "invalid_input"),
        (["not", "an", "object"], 422, "invalid_input"),
        ({"type": "test.noop", "data": [1, 2]}, 422, "invalid_input"),
        ({"type": "test.noop", "runAt": "2026-01-01T00:00:00"}, 422, "invalid_input"),
        ({"type": "test.noop", "runAt": "9999-12-31T23:00:00-05:00"}, 422, "invalid_input"),
        ({"type": "test.noop", "dependsOn": ["not-a-uuid"]}, 422, "invalid_input"),
        ({"type": "test.noop", "name": "nul\u0000byte"}, 422, "invalid_input"),
        ({"type": "test.noop", "data": {"k": "nul\u0000byte"}}, 422, "invalid_input"),
    ],
)
async def test_bad_create_requests_are_4xx(http, people, body, status, code):
    r = await http.post("/api/jobs", json=body, headers=people["alice"].headers)
    assert_error(r, status, code)


async def test_malformed_json_is_400(http, people):
    headers = {**people["alice"].headers, "Content-Type": "application/json"}
    assert_error(await http.post("/api/jobs", content=b'{"type": ', headers=headers), 400, "invalid_json")
    deep = b"[" * 100_000 + b"]" * 100_000
    r = await http.post("/api/jobs", content=deep, headers=headers)
    assert r.status_code in (400, 422), r.text


async def test_bodies_over_one_mebibyte_are_413(http, people):
    big = {"type": "test.noop", "data": {"blob": "x" * (1024 * 1024)}}
    assert_error(await http.post("/api/jobs", json=big, headers=people["alice"].headers), 413)

    async def chunks():  # no Content-Length: the limit still holds while streaming
        for _ in range(20):
            yield b"x" * 65536

    headers = {**people["alice"].headers, "Content-Type": "application/json"}
    assert_error(await http.post("/api/jobs", content=chunks(), headers=headers), 413, "request_too_large")


async def test_idempotency_key_returns_the_same_job(http, people, clean):
    first = await create(http, people["alice"], idempotencyKey="k-1")
    again = await create(http, people["alice"], idempotencyKey="k-1")
    assert again["id"] == first["id"]


# -- stats, batch, throughput ------------------------------------------------------------------


async def test_stats_is_not_taken_for_a_job_id(http, people, clean):
    await create(http, people["alice"])
    r = await http.get("/api/jobs/stats", headers=people["alice"].headers)
    assert r.status_code == 200
    stats = r.json()
    assert stats["total"] == 1 and stats["byStatus"]["pending"] == 1
    assert stats["byType"]["test.noop"]["total"] == 1
    assert {"successRate", "failureRate"} <= set(stats)


async def test_batch_is_one_transaction(http, people, clean):
    alice = people["alice"]
    r = await http.post("/api/jobs/batch", json={"jobs": [{"type": "test.noop"}] * 3}, headers=alice.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["count"] == 3 and len({j["batchId"] for j in body["items"]}) == 1
    r = await http.get(f"/api/jobs?batchId={body['batchId']}", headers=alice.headers)
    assert r.json()["total"] == 3

    bad = {"jobs": [{"type": "test.noop"}, {"type": "no.such.type"}]}
    err = assert_error(await http.post("/api/jobs/batch", json=bad, headers=alice.headers), 422)
    assert "job 1" in err["message"]
    assert (await http.get("/api/jobs", headers=alice.headers)).json()["total"] == 3
    assert_error(await http.post("/api/jobs/batch", json={"jobs": []}, headers=alice.headers), 422)


async def test_throughput(http, people):
    r = await http.get("/api/jobs/throughput?minutes=5", headers=people["alice"].headers)
    assert r.status_code == 200 and isinstance(r.json(), list)
    assert_error(await http.get("/api/jobs/throughput?minutes=0", headers=people["alice"].headers), 422)


# -- cancel and retry ---------------------------------------------------------------------------


async def test_cancel_then_retry_a_pending_job(http, people, clean):
    alice = people["alice"]
    job = await create(http, alice, runAt="2099-01-01T00:00:00Z")  # stays pending
    r = await http.patch(f"/api/jobs/{job['id']}/cancel", headers=alice.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert_error(await http.patch(f"/api/jobs/{job['id']}/cancel", headers=alice.headers), 409)

    r = await http.post(f"/api/jobs/{job['id']}/retry", headers=alice.headers)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    assert_error(
        await http.post(f"/api/jobs/{job['id']}/retry", headers=alice.headers), 409, "invalid_transition"
    )


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid", "x" * 100])
async def test_missing_jobs_are_404_everywhere(http, people, job_id):
    h = people["alice"].headers
    assert_error(await http.get(f"/api/jobs/{job_id}", headers=h), 404, "job_not_found")
    assert_error(await http.patch(f"/api/jobs/{job_id}/cancel", headers=h), 404)
    assert_error(await http.post(f"/api/jobs/{job_id}/retry", headers=h), 404)


# -- queues, workers, job types, me -----------------------------------------------------------------


async def test_queues_and_pausing_them(http, people, clean):
    await create(http, people["alice"])
    r = await http.get("/api/queues", headers=people["alice"].headers)
    assert r.status_code == 200
    test_queue = next(q for q in r.json() if q["name"] == "test")
    assert test_queue["pending"] == 1 and test_queue["paused"] is False

    assert_error(await http.post("/api/queues/test/pause", headers=people["alice"].headers), 403, "forbidden")
    r = await http.post("/api/queues/test/pause", headers=people["root"].headers)
    assert r.status_code == 200 and r.json() == {"name": "test", "paused": True}
    r = await http.get("/api/queues", headers=people["bob"].headers)
    test_queue = next(q for q in r.json() if q["name"] == "test")
    assert test_queue["paused"] is True and test_queue["pending"] == 0  # bob sees no org-a counts
    r = await http.post("/api/queues/test/resume", headers=people["root"].headers)
    assert r.json() == {"name": "test", "paused": False}
    assert_error(await http.post("/api/queues/bad%20name/pause", headers=people["root"].headers), 422)


async def test_workers_job_types_and_me(http, people):
    r = await http.get("/api/workers", headers=people["alice"].headers)
    assert r.status_code == 200 and isinstance(r.json(), list)

    r = await http.get("/api/job-types", headers=people["alice"].headers)
    types = {t["type"]: t for t in r.json()}
    assert types["test.sleep"]["queue"] == "test"
    assert types["test.fail"]["maxAttempts"] == 4
    assert set(types["test.sleep"]["schema"]["properties"]) == {"seconds", "steps"}

    r = await http.get("/api/me", headers=people["root"].headers)
    assert r.json()["isAdmin"] is True and r.json()["organizationId"] == "ops"


# -- authentication -----------------------------------------------------------------------------------


async def test_tokens_are_required_and_checked(http, people, settings):
    r = await http.get("/api/jobs")
    assert_error(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    assert_error(await http.get("/api/jobs", headers={"Authorization": "Bearer jd_wrong"}), 401)
    assert_error(await http.get("/api/jobs", headers={"Authorization": "Basic YTpi"}), 401)

    from jobdesk.store import tokens
    from jobdesk.store.db import connect_sync

    with connect_sync(settings.database_url) as conn:
        token, info = tokens.create(conn, "temp", "org-a")
        headers = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/api/jobs", headers=headers)).status_code == 200
        tokens.revoke(conn, info.id)
    assert_error(await http.get("/api/jobs", headers=headers), 401)


async def test_last_use_is_recorded_and_only_the_hash_is_stored(http, people, settings):
    who: Who = people["amos"]
    assert (await http.get("/api/me", headers=who.headers)).status_code == 200
    rows = query(
        settings.database_url, "SELECT last_used_at, token_hash FROM api_tokens WHERE id = %s", (who.info.id,)
    )
    last_used, stored = rows[0]
    assert last_used is not None
    assert who.token.encode() not in bytes(stored) and len(bytes(stored)) == 32


async def test_repeated_failures_from_one_address_get_429(http, people, server):
    limit = server.auth.limiter.limit
    for _ in range(limit):
        assert (await http.get("/api/jobs", headers={"Authorization": "Bearer jd_guess"})).status_code == 401
    r = await http.get("/api/jobs", headers={"Authorization": "Bearer jd_guess"})
    assert_error(r, 429, "too_many_requests")
    assert int(r.headers["retry-after"]) >= 1
    # Locked out means locked out: a right token from there is refused too, health is not.
    assert (await http.get("/api/jobs", headers=people["alice"].headers)).status_code == 429
    assert (await http.get("/api/health")).status_code == 200
    server.auth.limiter.reset()
    assert (await http.get("/api/jobs", headers=people["alice"].headers)).status_code == 200


# -- dependencies down ------------------------------------------------------------------------------


async def test_a_dependency_that_is_down_shows_in_health_not_as_a_500(http, server, monkeypatch):
    import redis.asyncio as aioredis
    from psycopg_pool import AsyncConnectionPool

    dead_redis = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    closed_pool = AsyncConnectionPool(server.engine.settings.database_url, open=False)
    monkeypatch.setattr(server.engine.sender, "client", dead_redis)
    monkeypatch.setattr(server.engine, "pool", closed_pool)
    r = await http.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "degraded"
    assert body["redis"]["ok"] is False and body["postgres"]["ok"] is False
    assert body["workers"]["live"] is None
    await dead_redis.aclose()


async def test_postgresql_down_is_503(http, server, people, monkeypatch):
    from psycopg_pool import AsyncConnectionPool

    closed_pool = AsyncConnectionPool(server.engine.settings.database_url, open=False)
    monkeypatch.setattr(server.auth.tokens, "pool", closed_pool)
    assert_error(await http.get("/api/jobs", headers=people["alice"].headers), 503, "database_unavailable")
    monkeypatch.setattr(server.auth.tokens, "pool", server.engine.pool)
    monkeypatch.setattr(server.engine.store, "pool", closed_pool)
    assert_error(await http.get("/api/jobs", headers=people["alice"].headers), 503, "database_unavailable")
