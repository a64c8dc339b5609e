"""The WebSocket gateway against a live server, with the websockets client."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.integration.server.conftest import (
    assert_quiet,
    create,
    events_until,
    next_event,
    next_reply,
    ws_connect,
)


async def handshake_status(coro) -> int:
    with pytest.raises(InvalidStatus) as info:
        async with coro:
            pass
    return info.value.response.status_code


# -- connecting -----------------------------------------------------------------------------------


async def test_a_connection_gets_its_own_users_jobs_unasked(server, http, people, clean):
    alice, amos = people["alice"], people["amos"]
    async with ws_connect(server, alice) as ws:
        theirs = await create(http, amos, name="amos's")  # same organization, other user: not unasked
        mine = await create(http, alice, name="mine")
        events = await events_until(ws, lambda m: m["data"]["id"] == mine["id"])
        assert theirs["id"] not in {m["data"]["id"] for m in events}
        assert events[-1]["event"] == "job-created" and events[-1]["data"]["userId"] == "alice"
        await assert_quiet(ws, {theirs["id"]}, settle=0.3)


async def test_bearer_header_works_too(server, http, people, clean):
    alice = people["alice"]
    async with ws_connect(server, additional_headers=alice.headers) as ws:
        job = await create(http, alice)
        await events_until(ws, lambda m: m["event"] == "job-created", job_id=job["id"])


async def test_missing_or_bad_tokens_are_refused_at_the_handshake(server, people, settings):
    assert await handshake_status(ws_connect(server)) == 401
    assert (
        await handshake_status(ws_connect(server, additional_headers={"Authorization": "Bearer nope"})) == 401
    )
    url = server.ws_url + "?token=jd_not_a_real_token"
    import websockets

    assert await handshake_status(websockets.connect(url)) == 401
    wrong_path = server.ws_url.replace("/jobs", "/elsewhere") + f"?token={people['alice'].token}"
    assert await handshake_status(websockets.connect(wrong_path)) == 404


async def test_a_revoked_token_is_disconnected(server, people, settings):
    from jobdesk.store import tokens
    from jobdesk.store.db import connect_sync

    with connect_sync(settings.database_url) as conn:
        token, info = tokens.create(conn, "temp", "org-a")
    import websockets

    async with websockets.connect(f"{server.ws_url}?token={token}") as ws:
        await assert_quiet(ws, set())
        assert await server.gateway.close_revoked() == 0
        with connect_sync(settings.database_url) as conn:
            tokens.revoke(conn, info.id)
        assert await server.gateway.close_revoked() == 1
        with pytest.raises(ConnectionClosed) as closed:
            await next_reply(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_repeated_bad_tokens_lock_the_address_out(server, people):
    import websockets

    for _ in range(server.auth.limiter.limit):
        assert await handshake_status(websockets.connect(server.ws_url + "?token=jd_guess")) == 401
    assert await handshake_status(ws_connect(server, people["alice"])) == 429


async def test_origin_allow_list(server, people):
    alice = people["alice"]
    server.gateway.origins = ["https://console.example"]
    try:
        assert await handshake_status(ws_connect(server, alice, origin="https://evil.example")) == 403
        async with ws_connect(server, alice, origin="https://console.example") as ws:
            await assert_quiet(ws, set())
        async with ws_connect(server, alice) as ws:  # no Origin: not a browser
            await assert_quiet(ws, set())
    finally:
        server.gateway.origins = []


async def test_tokens_never_reach_the_log(server, people, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    async with ws_connect(server, people["alice"]) as ws:
        await assert_quiet(ws, set())
    import websockets

    await handshake_status(websockets.connect(server.ws_url + "?token=jd_leaky_leaky_leaky_leaky"))
    # The client library logs its own request line; only the server's records count.
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("websockets.client"))
    assert "GET /jobs?token=*** HTTP/1.1" in text  # the request line was logged, redacted
    assert people["alice"].token not in text and "jd_leaky" not in text


# -- messages from the client ------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        "[1, 2, 3]",
        '{"data": {}}',
        '{"event": 42}',
        '{"event": "dance"}',
        '{"event": "subscribe-job"}',
        '{"event": "subscribe-job", "data": {"jobId": 7}}',
        '{"event": "unsubscribe-job", "data": []}',
        b"\x00\x01binary",
    ],
)
async def test_malformed_messages_get_an_error_and_the_connection_stays(server, people, message):
    async with ws_connect(server, people["alice"]) as ws:
        await ws.send(message)
        reply = await next_reply(ws)
        assert reply["event"] == "error" and reply["data"]["message"], reply
        await assert_quiet(ws, set())


async def test_messages_over_64_kib_are_refused(server, people):
    async with ws_connect(server, people["alice"], max_size=None) as ws:
        await ws.send(json.dumps({"event": "ping", "data": "x" * 60_000}))  # under: fine
        assert (await next_reply(ws))["event"] == "pong"
        await ws.send(json.dumps({"event": "ping", "data": "x" * (64 * 1024)}))
        with pytest.raises(ConnectionClosed) as info:
            await next_reply(ws)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009


async def test_protocol_ping_is_answered(server, people):
    async with ws_connect(server, people["alice"], ping_interval=None) as ws:
        latency = await asyncio.wait_for(await ws.ping(), 5)
        assert latency >= 0


# -- subscriptions -------------------------------------------------------------------------------


async def test_subscribe_and_unsubscribe_a_job_of_the_organization(server, http, people, clean):
    alice, amos = people["alice"], people["amos"]
    job = await create(http, amos, runAt="2099-01-01T00:00:00Z")
    async with ws_connect(server, alice) as ws:
        await ws.send(json.dumps({"event": "subscribe-job", "data": {"jobId": job["id"]}}))
        ack = await next_reply(ws)
        assert ack["event"] == "subscribed" and ack["data"]["jobId"] == job["id"]
        assert ack["data"]["job"]["status"] == "pending"

        await http.patch(f"/api/jobs/{job['id']}/cancel", headers=amos.headers)
        await events_until(ws, lambda m: m["event"] == "job-cancelled", job_id=job["id"])

        await ws.send(json.dumps({"event": "unsubscribe-job", "data": {"jobId": job["id"]}}))
        assert (await next_reply(ws))["event"] == "unsubscribed"
        await http.post(f"/api/jobs/{job['id']}/retry", headers=amos.headers)
        await assert_quiet(ws, {job["id"]}, settle=0.3)


async def test_subscribe_all_follows_the_organization_and_admins_see_everything(server, http, people, clean):
    async with ws_connect(server, people["alice"]) as ws_alice, ws_connect(server, people["root"]) as ws_root:
        for ws in (ws_alice, ws_root):
            await ws.send(json.dumps({"event": "subscribe-all"}))
            assert (await next_reply(ws))["event"] == "subscribed"
        amos_job = await create(http, people["amos"])
        bob_job = await create(http, people["bob"])
        await events_until(ws_alice, lambda m: True, job_id=amos_job["id"])
        await events_until(ws_root, lambda m: True, job_id=amos_job["id"])
        await events_until(ws_root, lambda m: True, job_id=bob_job["id"])
        await assert_quiet(ws_alice, {bob_job["id"]}, settle=0.3)  # bob's job never reached org-a


# -- slow consumers -------------------------------------------------------------------------------


async def test_a_slow_consumer_is_closed_and_holds_up_no_one(server, http, people, clean):
    alice = people["alice"]
    count = 600  # about 540 KB of events, against a 16 KiB bound for the slow reader
    # A reader that reads nothing: a one-frame client buffer and a tiny socket buffer.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.ws_port))
    sock.setblocking(False)
    server.gateway.queue_bytes = 16 * 1024
    try:
        slow = await ws_connect(server, alice, sock=sock, max_queue=1)
    finally:
        server.gateway.queue_bytes = server.gateway.options.ws_queue_bytes
    async with slow, ws_connect(server, alice) as fast:
        r = await http.post(
            "/api/jobs/batch", json={"jobs": [{"type": "test.noop"}] * count}, headers=alice.headers
        )
        assert r.status_code == 201
        batch = r.json()["batchId"]
        # Once the server has given up on it, the slow reader reads on, to see why it
        # was closed (the server waits only 2 s for a close handshake).
        deadline = asyncio.get_running_loop().time() + 20
        while not any(c.overflowed for c in server.gateway.clients):
            assert asyncio.get_running_loop().time() < deadline, "the slow reader was never closed"
            await asyncio.sleep(0.01)
        closed = asyncio.create_task(_read_until_closed(slow))

        created = []
        while len(created) < count:
            msg = await next_event(fast, 20)
            if msg["event"] == "job-created" and msg["data"]["batchId"] == batch:
                created.append(msg)
        assert len({m["data"]["id"] for m in created}) == count  # every event, none dropped
        assert await closed == 1013


async def _read_until_closed(ws) -> int | None:
    try:
        while True:
            await ws.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None
