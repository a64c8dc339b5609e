"""A JobsClient for a jobdesk server elsewhere: REST for reads and actions, WebSocket for events.

    client = RestClient("http://host:3000", token, ws_url="ws://host:3001/jobs")

Errors come back as the JobdeskError the same failure raises in-process
(404 JobNotFound-like NotFound, 409 InvalidTransition, 422 InvalidInput...);
an unreachable server is a ServiceUnavailable naming the URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from jobdesk.client.base import (
    BatchCallback,
    BatchPage,
    EventCallback,
    JobPage,
    JobQuery,
    JobsClient,
    JobType,
)
from jobdesk.client.schema import example_from_schema
from jobdesk.client.wire import error_from_response, job_from_api
from jobdesk.client.ws import EventStream
from jobdesk.core.errors import ServiceUnavailable
from jobdesk.core.jobs import Job

TIMEOUT_S = 15.0


def default_ws_url(base_url: str) -> str:
    """The contract's gateway: the API's host, port 3001, path /jobs."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.hostname or '127.0.0.1'}:3001/jobs"


class RestClient(JobsClient):
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        ws_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.endpoint = f"server {self.base_url}"
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_S,
            transport=transport,
        )
        self.events = EventStream(ws_url or default_ws_url(self.base_url), token)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"cannot reach the jobdesk server at {self.base_url} ({exc})") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            raise error_from_response(response.status_code, body)
        return body

    # -- jobs -----------------------------------------------------------------------------

    async def list_jobs(
        self, query: JobQuery, *, limit: int = 100, offset: int = 0, cursor: str | None = None
    ) -> JobPage:
        params: dict[str, Any] = {
            "limit": limit,
            "offset": offset,
            "order": query.order,
            "descending": "true" if query.descending else "false",
        }
        if cursor is not None:
            params["cursor"] = cursor
        for key in ("type", "status", "queue", "search"):
            value = getattr(query, key)
            if value is not None:
                params[key] = value
        if query.batch_id is not None:
            params["batchId"] = query.batch_id
        page = await self._call("GET", "/api/jobs", params=params)
        return JobPage(
            [job_from_api(j) for j in page["items"]],
            page["total"],
            page["limit"],
            page["offset"],
            page.get("nextCursor"),  # absent from servers before keyset pagination
        )

    async def get_job(self, job_id: str) -> Job:
        return job_from_api(await self._call("GET", f"/api/jobs/{quote(job_id, safe='')}"))

    async def create_job(self, spec: dict[str, Any]) -> Job:
        return job_from_api(await self._call("POST", "/api/jobs", json=spec))

    async def cancel_job(self, job_id: str) -> Job:
        return job_from_api(await self._call("PATCH", f"/api/jobs/{quote(job_id, safe='')}/cancel"))

    async def retry_job(self, job_id: str) -> Job:
        return job_from_api(await self._call("POST", f"/api/jobs/{quote(job_id, safe='')}/retry"))

    async def job_types(self) -> list[JobType]:
        out = []
        for t in await self._call("GET", "/api/job-types"):
            schema = t.get("schema")
            out.append(
                JobType(
                    t["type"],
                    t.get("queue", ""),
                    int(t.get("maxAttempts") or 3),
                    t.get("description") or "",
                    schema,
                    example_from_schema(schema),
                )
            )
        return out

    # -- the whole system -------------------------------------------------------------------

    async def stats(self) -> dict[str, Any]:
        return await self._call("GET", "/api/jobs/stats")

    async def throughput(self, minutes: int = 60) -> list[dict[str, Any]]:
        return await self._call("GET", "/api/jobs/throughput", params={"minutes": minutes})

    async def queues(self) -> list[dict[str, Any]]:
        return await self._call("GET", "/api/queues")

    async def set_queue_paused(self, name: str, paused: bool) -> dict[str, Any]:
        action = "pause" if paused else "resume"
        return await self._call("POST", f"/api/queues/{quote(name, safe='')}/{action}")

    async def workers(self) -> list[dict[str, Any]]:
        return await self._call("GET", "/api/workers")

    # -- flow control, schedules ----------------------------------------------------------------

    async def why(self, job_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/api/jobs/{quote(job_id, safe='')}/why")

    async def batch(self, batch_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/api/batches/{quote(batch_id, safe='')}")

    async def batches(self, *, open_only: bool = False, limit: int = 100, offset: int = 0) -> BatchPage:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if open_only:
            params["open"] = "true"
        page = await self._call("GET", "/api/batches", params=params)
        return BatchPage(page["items"], page["total"], page["limit"], page["offset"])

    async def dead_letters(self, limit: int = 100, offset: int = 0, *, cursor: str | None = None) -> JobPage:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if cursor is not None:
            params["cursor"] = cursor
        page = await self._call("GET", "/api/dead-letters", params=params)
        items = [job_from_api(j) for j in page["items"]]
        return JobPage(items, page["total"], page["limit"], page["offset"], page.get("nextCursor"))

    async def requeue_dead(self, ids: list[str] | None = None) -> int:
        body = await self._call("POST", "/api/dead-letters/requeue", json={"ids": ids})
        return int(body["requeued"])

    async def purge_dead(self, ids: list[str] | None = None) -> int:
        body = await self._call("POST", "/api/dead-letters/purge", json={"ids": ids})
        return int(body["purged"])

    async def schedules(self) -> list[dict[str, Any]]:
        return await self._call("GET", "/api/schedules")

    async def set_schedule_enabled(self, ref: str, enabled: bool) -> dict[str, Any]:
        return await self._call("PATCH", f"/api/schedules/{quote(ref, safe='')}", json={"enabled": enabled})

    async def remove_schedule(self, ref: str) -> dict[str, Any]:
        return await self._call("DELETE", f"/api/schedules/{quote(ref, safe='')}")

    async def rate_limits(self) -> list[dict[str, Any]]:
        return await self._call("GET", "/api/rate-limits")

    async def set_rate_limit(
        self, scope: str, key: str, *, per_second: float | None = None, max_concurrent: int | None = None
    ) -> dict[str, Any]:
        body = {"perSecond": per_second, "maxConcurrent": max_concurrent}
        return await self._call("PUT", _limit_path(scope, key), json=body)

    async def remove_rate_limit(self, scope: str, key: str) -> None:
        await self._call("DELETE", _limit_path(scope, key))

    async def notification_rules(self, job_type: str | None = None) -> list[dict[str, Any]]:
        params = {"jobType": job_type} if job_type is not None else {}
        return await self._call("GET", "/api/notification-rules", params=params)

    async def add_notification_rule(self, spec: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/api/notification-rules", json=spec)

    async def remove_notification_rule(self, rule_id: str) -> dict[str, Any]:
        return await self._call("DELETE", f"/api/notification-rules/{quote(rule_id, safe='')}")

    # -- events and lifetime ----------------------------------------------------------------

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        return self.events.subscribe(callback)

    def on_resync(self, callback: Callable[[], None]) -> None:
        self.events.on_resync(callback)

    def on_batch_completed(self, callback: BatchCallback) -> None:
        self.events.on_batch_completed(callback)

    async def close(self) -> None:
        await self.events.close()
        await self.http.aclose()


def _limit_path(scope: str, key: str) -> str:
    return f"/api/rate-limits/{quote(scope, safe='')}/{quote(key, safe='')}"
