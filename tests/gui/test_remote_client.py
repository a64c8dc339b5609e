"""The REST/WebSocket client against the embedded server: same answers, same errors, same events."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.rows import dict_row

from jobdesk.client.base import JobQuery
from jobdesk.client.remote import RemoteConnector
from jobdesk.client.rest import RestClient
from jobdesk.core.errors import InvalidInput, InvalidTransition, NotFound, ServiceUnavailable, Unauthorized
from jobdesk.core.events import EventName, JobEvent
from jobdesk.store import tokens
from jobdesk.ui.console import Console
from jobdesk.ui.prefs import PrefsStore
from tests.gui.conftest import Harness


@pytest.fixture(scope="module")
def remote(gui: Harness) -> Iterator[RemoteConnector]:
    server = gui.client.server
    assert server is not None, "the embedded client hosts the REST/WebSocket server"
    with psycopg.connect(gui.settings.database_url, autocommit=True, row_factory=dict_row) as conn:
        token, info = tokens.create(conn, "console-test", "default", is_admin=True, name="gui tests")
    try:
        yield RemoteConnector(server.api_url, token, server.ws_url)
    finally:
        with psycopg.connect(gui.settings.database_url, autocommit=True, row_factory=dict_row) as conn:
            tokens.revoke(conn, info.id)


def test_rest_client_speaks_the_contract(gui: Harness, remote: RemoteConnector) -> None:
    name = gui.unique("remote")

    async def scenario() -> None:
        client = await remote.connect(remote.defaults())
        assert isinstance(client, RestClient)
        heard: list[JobEvent] = []
        client.subscribe(heard.extend)
        try:
            await gui.until(lambda: client.events.connected, what="the event stream")
            job = await client.create_job({"type": "test.noop", "name": name, "priority": 3})
            assert job.name == name and job.priority == 3 and job.status.value == "pending"
            assert (await client.get_job(job.id)).id == job.id
            page = await client.list_jobs(JobQuery(search=name), limit=10)
            assert [j.id for j in page.items] == [job.id] and page.total == 1
            await gui.until(
                lambda: any(e.job.id == job.id and e.name == EventName.COMPLETED for e in heard),
                what="the completion over WebSocket",
            )
            assert any(e.job.id == job.id and e.name == EventName.CREATED for e in heard)
            with pytest.raises(InvalidTransition):
                await client.cancel_job(job.id)  # already completed: 409
            with pytest.raises(NotFound):
                await client.get_job("00000000-0000-0000-0000-000000000000")
            with pytest.raises(InvalidInput):
                await client.create_job({"type": "test.sleep", "data": {"seconds": "soon"}})
            failed = await client.create_job({"type": "test.fail", "name": name, "maxAttempts": 1})
            await gui.until(
                lambda: any(e.job.id == failed.id and e.name == EventName.FAILED for e in heard),
                what="failure",
            )
            assert (await client.retry_job(failed.id)).status.value == "pending"
            stats = await client.stats()
            assert stats["total"] >= 2 and "byStatus" in stats
            assert {"name", "paused", "pending"} <= set((await client.queues())[0])
            assert await client.workers()
            types = {t.type: t for t in await client.job_types()}
            assert "seconds" in types["test.sleep"].example
            assert isinstance(await client.throughput(60), list)
            assert (await client.set_queue_paused("test", False))["paused"] is False
        finally:
            await client.close()

    gui.run(scenario())


def test_bad_token_and_unreachable_server_are_readable(gui: Harness, remote: RemoteConnector) -> None:
    async def scenario() -> None:
        with pytest.raises(Unauthorized):
            await RemoteConnector(remote.base_url, "not-a-token").connect(remote.defaults())
        with pytest.raises(ServiceUnavailable, match="cannot reach the jobdesk server"):
            await RemoteConnector("http://127.0.0.1:1", "x").connect(remote.defaults())

    gui.run(scenario())


def test_the_console_watches_a_remote_server(
    gui: Harness, remote: RemoteConnector, prefs_store: PrefsStore
) -> None:
    console = Console(remote, prefs_store)
    name = gui.unique("watched")
    try:
        assert gui.run(console.start())
        window = console.window
        assert window.client is not None and window.client.endpoint.startswith("server http")
        assert window.workers_view.start_button.isEnabled() is False  # nothing hosted here

        async def scenario() -> None:
            job = await gui.client.create_job({"type": "test.noop", "name": name})
            await gui.until(lambda: window.model.row_of(job.id) is not None, what="the row, via WebSocket")
            await gui.until(
                lambda: (
                    (r := window.model.row_at(window.model.row_of(job.id) or 0)) is not None
                    and r.status == "completed"
                ),
                what="its completion",
            )

        gui.run(scenario())
        dialog = console.open_settings()
        assert not dialog.database_url.isEnabled()
        dialog.reject()
    finally:
        gui.run(console.shutdown())
