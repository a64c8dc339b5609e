"""REST routes for jobs: the contract's, on the original design's paths.

Fixed paths (`/api/jobs/stats`, `/batch`, `/throughput`) are declared before
`/api/jobs/{id}` so that the parameter never captures them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import JSONResponse

from jobdesk.core.errors import InvalidInput
from jobdesk.core.spec import JobSpec
from jobdesk.server import schemas
from jobdesk.server.deps import EngineDep, Principal
from jobdesk.server.schemas import AUTH_ERRORS, BODY_ERRORS, CONFLICT, NOT_FOUND, JobStatusName
from jobdesk.service.jobs import LIST_LIMIT_MAX
from jobdesk.store.jobs import ORDERS

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=AUTH_ERRORS)

# Deep enough for any page a client walks; an OFFSET beyond it would only scan.
OFFSET_MAX = 10_000_000
# Dates a job may be scheduled at. PostgreSQL stores far wider ones, but a row
# whose time Python cannot read back (year 10000 once in UTC) would break every
# list that includes it.
_RUN_AT_MIN = datetime(1970, 1, 1, tzinfo=UTC)
_RUN_AT_MAX = datetime(9000, 1, 1, tzinfo=UTC)

# The service's whitelist of list orders, as an enum so the OpenAPI document names them.
Order = StrEnum("Order", {name.upper(): name for name in ORDERS})  # type: ignore[misc]

JobId = Annotated[str, Path(alias="id", max_length=100, description="the job's id (a UUID)")]


def _check_run_at(spec: JobSpec, where: str = "") -> None:
    if spec.run_at is not None and not _RUN_AT_MIN <= spec.run_at <= _RUN_AT_MAX:
        raise InvalidInput(f"{where}runAt must be between 1970 and 9000")


def _job(job: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(job.to_api(), status_code=status)


@router.post(
    "",
    status_code=201,
    response_model=schemas.JobOut,
    responses=BODY_ERRORS,
    summary="Create a job",
)
async def create_job(spec: Annotated[JobSpec, Body()], engine: EngineDep, who: Principal) -> JSONResponse:
    """The job is stored `pending` and runs when a worker of its queue is free.

    `status`, `attempts`, `result`, `userId` and `organizationId` are not for
    the client to set: a body that names them is refused with 422. The job
    belongs to the token's user and organization.
    """
    _check_run_at(spec)
    job = await engine.service.create_job(who.user_id, who.organization_id, spec)
    return _job(job, 201)


@router.post(
    "/batch",
    status_code=201,
    response_model=schemas.BatchOut,
    responses=BODY_ERRORS,
    summary="Create many jobs at once",
)
async def create_batch(batch: schemas.BatchIn, engine: EngineDep, who: Principal) -> JSONResponse:
    """Up to 10,000 jobs in one transaction: all are stored, or none (the body's 1 MiB limit applies).

    `items` holds a job for each spec, in order; `count` is their number.

    **Idempotency keys** work as in `POST /api/jobs`: a spec whose `idempotencyKey`
    names a job of the organization created in the last 24 hours gets that job in
    its place in `items`, unchanged, and nothing new is stored for it; a key given
    to several specs of the batch names one job, made from the first of them. A
    batch sent again with the same keys therefore gets the same jobs back.

    `created` counts the jobs this request stored: only they carry the new
    `batchId` (and count in `GET /api/batches/{id}`); a repeated key's job keeps
    its own. When every spec named an existing job, nothing is stored and
    `batchId` is `null`.
    """
    for i, spec in enumerate(batch.jobs):
        _check_run_at(spec, f"job {i}: ")
    got = await engine.service.create_batch(who.user_id, who.organization_id, list(batch.jobs))
    return JSONResponse(got.to_api(), status_code=201)


@router.get("", response_model=schemas.PageOut, summary="List jobs, newest first")
async def list_jobs(
    engine: EngineDep,
    who: Principal,
    type: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[JobStatusName | None, Query()] = None,
    queue: Annotated[str | None, Query(max_length=100)] = None,
    search: Annotated[
        str | None, Query(max_length=200, description="a piece of the name, or an id prefix")
    ] = None,
    parent_id: Annotated[str | None, Query(alias="parentId", max_length=100)] = None,
    batch_id: Annotated[str | None, Query(alias="batchId", max_length=100)] = None,
    limit: Annotated[
        int, Query(ge=1, description=f"page size, default 20; larger values are capped at {LIST_LIMIT_MAX}")
    ] = 20,
    offset: Annotated[int, Query(ge=0, le=OFFSET_MAX)] = 0,
    order: Order = Order("created"),
    descending: bool = True,
    cursor: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="the previous page's `nextCursor` (same order): fast at any depth; not with offset",
        ),
    ] = None,
) -> JSONResponse:
    """A member's token lists its organization's jobs; an admin's lists all.

    Page by `offset`, or by `cursor`: each page's `nextCursor` names where the
    next one starts (keyset pagination), costs the same at any depth, and never
    repeats or skips a job while new ones are created. `total` counts the whole
    filter, whatever the page.
    """
    page = await engine.service.list_jobs(
        who.scope,
        type=type,
        status=status,
        queue=queue,
        search=search,
        parent_id=parent_id,
        batch_id=batch_id,
        # Capped rather than refused, so a client written against a larger page still works.
        limit=min(limit, LIST_LIMIT_MAX),
        offset=offset,
        order=order.value,
        descending=descending,
        cursor=cursor,
    )
    return JSONResponse(page.to_api())


@router.get("/stats", response_model=schemas.StatsOut, summary="Counts and rates")
async def stats(engine: EngineDep, who: Principal) -> JSONResponse:
    return JSONResponse(await engine.service.stats(who.scope))


@router.get("/throughput", response_model=list[schemas.ThroughputOut], summary="Jobs finished per minute")
async def throughput(
    engine: EngineDep, who: Principal, minutes: Annotated[int, Query(ge=1, le=1440)] = 60
) -> JSONResponse:
    """`[{minute, completed, failed}]` over the last `minutes`, oldest first; empty minutes are left out."""
    return JSONResponse(await engine.service.throughput(who.scope, minutes))


@router.get("/{id}", response_model=schemas.JobOut, responses=NOT_FOUND, summary="Get a job")
async def get_job(job_id: JobId, engine: EngineDep, who: Principal) -> JSONResponse:
    return _job(await engine.service.get_job(job_id, who.scope))


@router.patch(
    "/{id}/cancel", response_model=schemas.JobOut, responses={**NOT_FOUND, **CONFLICT}, summary="Cancel a job"
)
async def cancel_job(job_id: JobId, engine: EngineDep, who: Principal) -> JSONResponse:
    """A pending job is `cancelled` at once; an active one within a second or two
    (the answer then shows `cancelRequested`). 409 if the job has already finished."""
    return _job(await engine.service.cancel_job(job_id, who.scope))


@router.post(
    "/{id}/retry", response_model=schemas.JobOut, responses={**NOT_FOUND, **CONFLICT}, summary="Retry a job"
)
async def retry_job(job_id: JobId, engine: EngineDep, who: Principal) -> JSONResponse:
    """A failed or cancelled job goes back to `pending`; 409 for any other status."""
    return _job(await engine.service.retry_job(job_id, who.scope))
