"""REST routes about the system rather than one job: health, queues, workers, job types."""

from __future__ import annotations

import asyncio
import logging
import time
from importlib import metadata
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from jobdesk.server import schemas
from jobdesk.server.deps import Admin, EngineDep, Principal
from jobdesk.server.schemas import AUTH_ERRORS, FORBIDDEN
from jobdesk.service.engine import Engine

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["system"])

# A health check must answer even when a dependency hangs.
_PROBE_TIMEOUT_S = 2.0
QueueName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9._-]*$")]


def version() -> str:
    try:
        return metadata.version("jobdesk")
    except metadata.PackageNotFoundError:
        return "unknown"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


async def _probe_postgres(engine: Engine) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT_S):
            async with engine.pool.connection(timeout=_PROBE_TIMEOUT_S) as conn:
                await conn.execute("SELECT 1")
    except Exception as exc:  # any failure is the answer, not an error
        # Health needs no token: the details (hosts, users) go to the log, not to the caller.
        log.warning("health: PostgreSQL: %s", _reason(exc))
        return {"ok": False, "latencyMs": None, "error": type(exc).__name__}
    return {"ok": True, "latencyMs": round((time.perf_counter() - started) * 1000, 2)}


async def _probe_redis(engine: Engine) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT_S):
            await engine.sender.client.ping()
    except Exception as exc:
        # Not the message: Redis errors may quote the URL, password included.
        log.warning("health: Redis: %s", type(exc).__name__)
        return {"ok": False, "latencyMs": None, "error": type(exc).__name__}
    return {"ok": True, "latencyMs": round((time.perf_counter() - started) * 1000, 2)}


@router.get("/health", response_model=schemas.HealthOut, summary="Health, without a token")
async def health(engine: EngineDep) -> JSONResponse:
    """Always 200: a dependency that is down shows as `ok: false` and `status: degraded`."""
    postgres, redis = await asyncio.gather(_probe_postgres(engine), _probe_redis(engine))
    workers: dict[str, Any] = {"live": None, "threads": None}
    if postgres["ok"]:
        try:
            async with asyncio.timeout(_PROBE_TIMEOUT_S):
                live = await engine.service.workers()
            workers = {"live": len(live), "threads": sum(w["threads"] for w in live)}
        except Exception as exc:
            log.warning("health: cannot count workers: %s", _reason(exc))
    status = "ok" if postgres["ok"] and redis["ok"] else "degraded"
    body = {"status": status, "version": version(), "postgres": postgres, "redis": redis, "workers": workers}
    return JSONResponse(body)


@router.get("/me", response_model=schemas.MeOut, responses=AUTH_ERRORS, summary="Who the token speaks for")
async def me(who: Principal) -> JSONResponse:
    return JSONResponse(who.to_api())


@router.get("/queues", response_model=list[schemas.QueueOut], responses=AUTH_ERRORS, summary="Queues")
async def queues(engine: EngineDep, who: Principal) -> JSONResponse:
    """Every known queue, paused or not, with the counts of the token's jobs in it."""
    return JSONResponse(await engine.service.queues(who.scope))


@router.post(
    "/queues/{name}/pause",
    response_model=schemas.QueueStateOut,
    responses={**AUTH_ERRORS, **FORBIDDEN},
    summary="Pause a queue (admin)",
)
async def pause_queue(name: QueueName, engine: EngineDep, who: Admin) -> JSONResponse:
    """Its pending jobs wait; running ones finish. Admin tokens only."""
    return JSONResponse(await engine.service.set_queue_paused(name, True))


@router.post(
    "/queues/{name}/resume",
    response_model=schemas.QueueStateOut,
    responses={**AUTH_ERRORS, **FORBIDDEN},
    summary="Resume a queue (admin)",
)
async def resume_queue(name: QueueName, engine: EngineDep, who: Admin) -> JSONResponse:
    return JSONResponse(await engine.service.set_queue_paused(name, False))


@router.get("/workers", response_model=list[schemas.WorkerOut], responses=AUTH_ERRORS, summary="Live workers")
async def workers(engine: EngineDep, who: Principal) -> JSONResponse:
    """Workers are shared, so every token sees them; a member sees only its own jobs among `currentJobs`."""
    live = await engine.service.workers()
    if who.scope is not None:
        current = [j for w in live for j in w["currentJobs"]]
        visible = {j.id for j in await engine.store.get_many(current) if j.organization_id == who.scope}
        for w in live:
            w["currentJobs"] = [j for j in w["currentJobs"] if j in visible]
    return JSONResponse(live)


@router.get("/job-types", response_model=list[schemas.JobTypeOut], responses=AUTH_ERRORS, summary="Job types")
async def job_types(request: Request, engine: EngineDep, who: Principal) -> JSONResponse:
    """The registered types, each with its queue, default maxAttempts and the JSON Schema of its data."""
    # A JSON Schema takes pydantic tens of milliseconds to build, and types are
    # registered at start-up: the answer is kept until the set of types changes.
    names = tuple(engine.registry.types())
    cached = getattr(request.app.state, "job_types", None)
    if cached is None or cached[0] != names:
        cached = (names, [_describe(d) for d in engine.registry])
        request.app.state.job_types = cached
    return JSONResponse(cached[1])


def _describe(definition: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    if definition.schema is not None:
        try:
            schema = definition.schema.model_json_schema()
        except Exception as exc:  # a type whose schema cannot be expressed still gets listed
            log.warning("job type %s: no JSON schema: %s", definition.type, _reason(exc))
    return {
        "type": definition.type,
        "queue": definition.queue,
        "maxAttempts": definition.max_attempts,
        "description": definition.description,
        "schema": schema,
    }
