"""REST routes for flow control: batches, dead letters, rate limits, and why a job waits.

Each route hands the token's scope to FlowService (None for an admin), which
never reaches outside it: another organization's batch or job is a 404, and
requeue/purge without ids touch only the caller's organization.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.responses import JSONResponse

from jobdesk.server import schemas
from jobdesk.server.deps import Admin, EngineDep, Principal
from jobdesk.server.jobs import OFFSET_MAX, JobId
from jobdesk.server.schemas import AUTH_ERRORS, BODY_ERRORS, FORBIDDEN, ErrorOut
from jobdesk.service.flow import BATCHES_LIMIT_MAX
from jobdesk.service.jobs import LIST_LIMIT_MAX

router = APIRouter(prefix="/api", tags=["flow"], responses=AUTH_ERRORS)

BatchId = Annotated[str, Path(alias="id", max_length=100, description="the batch's id (a UUID)")]
Scope = Annotated[schemas.RateLimitScope, Path(description="`type` (a job type) or `organization`")]
Key = Annotated[
    str, Path(min_length=1, max_length=200, description="the job type or organization id the limit is for")
]

_BATCH_NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorOut, "description": "no such batch (or another organization's)"}
}
_LIMIT_NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorOut, "description": "no rate limit for that scope and key"}
}


@router.get("/batches", response_model=schemas.BatchPageOut, summary="Batches, newest first")
async def list_batches(
    engine: EngineDep,
    who: Principal,
    open: Annotated[bool, Query(description="only batches with jobs still pending or active")] = False,
    limit: Annotated[
        int,
        Query(ge=1, description=f"page size, default 20; larger values are capped at {BATCHES_LIMIT_MAX}"),
    ] = 20,
    offset: Annotated[int, Query(ge=0, le=OFFSET_MAX)] = 0,
) -> JSONResponse:
    """The batches of `POST /api/jobs/batch` (the token's organization's; all for an admin),
    each summarized as `GET /api/batches/{id}` does: `{items, total, limit, offset}`.
    `GET /api/jobs?batchId=` lists a batch's jobs."""
    page = await engine.flow.list_batches(
        who.scope, open_only=open, limit=min(limit, BATCHES_LIMIT_MAX), offset=offset
    )
    return JSONResponse(page)


@router.get(
    "/batches/{id}", response_model=schemas.BatchSummaryOut, responses=_BATCH_NOT_FOUND, summary="A batch"
)
async def get_batch(batch_id: BatchId, engine: EngineDep, who: Principal) -> JSONResponse:
    """Counts by status and the aggregate progress of the jobs of `POST /api/jobs/batch`.

    `completedAt` is set once every job has finished; the WebSocket gateway then
    sends `batch-completed`.
    """
    return JSONResponse(await engine.flow.get_batch(batch_id, who.scope))


# -- dead letters ----------------------------------------------------------------------------


@router.get("/dead-letters", response_model=schemas.PageOut, summary="Failed jobs, newest first")
async def dead_letters(
    engine: EngineDep,
    who: Principal,
    type: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[
        int, Query(ge=1, description=f"page size, default 20; larger values are capped at {LIST_LIMIT_MAX}")
    ] = 20,
    offset: Annotated[int, Query(ge=0, le=OFFSET_MAX)] = 0,
    cursor: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="the previous page's `nextCursor`: fast at any depth; not with offset",
        ),
    ] = None,
) -> JSONResponse:
    """Jobs that failed their last attempt, with their errors: `{items, total, limit, offset, nextCursor}`.

    Page by `offset`, or by `cursor` as in `GET /api/jobs`: pass the previous
    page's `nextCursor` (keyset pagination: the same cost at any depth, and no
    failed job repeated or skipped while others fail). `nextCursor` is `null`
    on the last page.
    """
    page = await engine.flow.dead_letters(
        who.scope, type=type, limit=min(limit, LIST_LIMIT_MAX), offset=offset, cursor=cursor
    )
    return JSONResponse(page.to_api())


@router.post(
    "/dead-letters/requeue",
    response_model=schemas.RequeuedOut,
    responses=BODY_ERRORS,
    summary="Run failed jobs again",
)
async def requeue_dead(
    engine: EngineDep, who: Principal, body: Annotated[schemas.DeadLettersIn, Body()]
) -> JSONResponse:
    """The failed jobs among `ids` (or, without ids, every failed job of the caller's
    organization, of `type` if given) go back to `pending` with their attempts reset.
    Ids of jobs that are not failed, or not the caller's, are skipped."""
    n = await engine.flow.requeue_dead(who.scope, ids=body.ids, type=body.type)
    return JSONResponse({"requeued": n})


@router.post(
    "/dead-letters/purge",
    response_model=schemas.PurgedOut,
    responses=BODY_ERRORS,
    summary="Delete failed jobs",
)
async def purge_dead(
    engine: EngineDep, who: Principal, body: Annotated[schemas.DeadLettersIn, Body()]
) -> JSONResponse:
    """Deletes failed jobs, chosen as for requeue (children of a parent job are kept with it)."""
    n = await engine.flow.purge_dead(who.scope, ids=body.ids, type=body.type)
    return JSONResponse({"purged": n})


# -- rate limits -----------------------------------------------------------------------------


@router.get("/rate-limits", response_model=list[schemas.RateLimitOut], summary="Rate limits")
async def rate_limits(engine: EngineDep, who: Principal) -> JSONResponse:
    """Every limit per job type; limits per organization only for the caller's own
    (all of them for an admin), so that a member does not learn other organizations' ids."""
    limits = await engine.flow.rate_limits()
    if who.scope is not None:
        limits = [r for r in limits if r["scope"] == "type" or r["key"] == who.scope]
    return JSONResponse(limits)


@router.put(
    "/rate-limits/{scope}/{key}",
    response_model=schemas.RateLimitOut,
    responses={**BODY_ERRORS, **FORBIDDEN},
    summary="Set a rate limit (admin)",
)
async def set_rate_limit(
    scope: Scope,
    key: Key,
    engine: EngineDep,
    who: Admin,
    body: Annotated[schemas.RateLimitIn, Body()],
) -> JSONResponse:
    """Creates or replaces the limit: at most `perSecond` dispatches a second (bursts of
    one second's worth) and/or `maxConcurrent` jobs in flight, over every server."""
    limit = await engine.flow.set_rate_limit(
        scope, key, per_second=body.perSecond, max_concurrent=body.maxConcurrent
    )
    return JSONResponse(limit)


@router.delete(
    "/rate-limits/{scope}/{key}",
    status_code=204,
    response_class=Response,
    responses={**FORBIDDEN, **_LIMIT_NOT_FOUND},
    summary="Remove a rate limit (admin)",
)
async def remove_rate_limit(scope: Scope, key: Key, engine: EngineDep, who: Admin) -> Response:
    await engine.flow.remove_rate_limit(scope, key)
    return Response(status_code=204)


# -- why is this job waiting? ------------------------------------------------------------------


@router.get(
    "/jobs/{id}/why",
    response_model=schemas.WhyOut,
    responses=schemas.NOT_FOUND,
    tags=["jobs"],
    summary="Why a job is waiting",
)
async def why(job_id: JobId, engine: EngineDep, who: Principal) -> JSONResponse:
    """For a pending job, what holds it, most decisive first: each reason has a `kind`
    (`dispatched`, `scheduled`, `backoff`, `paused`, `dependency`, `rate-limit`,
    `no-workers`, `priority`) and a `message`. Any other status: `waiting: false`."""
    return JSONResponse(await engine.flow.explain(job_id, who.scope))
