"""REST routes for schedules, notification rules and the Prometheus metrics.

The services are started beside the engine (jobdesk.service.extras); a
member's token sees and changes its organization's schedules and rules, an
admin's sees all of them (and adds new ones to its own organization).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.responses import JSONResponse

from jobdesk.server import schemas
from jobdesk.server.deps import Admin, EngineDep, ExtrasDep, Principal
from jobdesk.server.jobs import JobId
from jobdesk.server.schemas import (
    AUTH_ERRORS,
    BODY_ERRORS,
    FORBIDDEN,
    NOT_FOUND,
    SCHEDULE_NOT_FOUND,
    ErrorOut,
)
from jobdesk.service.metrics import CONTENT_TYPE
from jobdesk.service.notifications import RuleSpec
from jobdesk.service.schedules import ScheduleSpec

router = APIRouter(prefix="/api", responses=AUTH_ERRORS)
metrics_router = APIRouter(tags=["system"])

ScheduleRef = Annotated[
    str, Path(alias="ref", min_length=1, max_length=200, description="the schedule's id or its name")
]
RuleId = Annotated[str, Path(alias="id", max_length=100, description="the rule's id (a UUID)")]

_SCHEDULE_EXISTS: dict[int | str, dict[str, object]] = {
    409: {"model": ErrorOut, "description": "a schedule of that name exists in the organization"}
}
_RULE_EXISTS: dict[int | str, dict[str, object]] = {
    409: {"model": ErrorOut, "description": "the same rule exists already"}
}
_RULE_NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorOut, "description": "no such rule (or another organization's)"}
}


# -- schedules ---------------------------------------------------------------------------------


@router.get("/schedules", response_model=list[schemas.ScheduleOut], tags=["schedules"], summary="Schedules")
async def list_schedules(who: Principal, extras: ExtrasDep) -> JSONResponse:
    return JSONResponse([s.to_api() for s in await extras.schedules.list_schedules(who.scope)])


@router.post(
    "/schedules",
    status_code=201,
    response_model=schemas.ScheduleOut,
    responses={**BODY_ERRORS, **_SCHEDULE_EXISTS},
    tags=["schedules"],
    summary="Add a schedule",
)
async def add_schedule(
    who: Principal, extras: ExtrasDep, spec: Annotated[ScheduleSpec, Body()]
) -> JSONResponse:
    """Creates `job` at every tick of `cron` (5 fields, or 6 with seconds first) in
    `timezone`. The job is checked as `POST /api/jobs` would check it (its `type`
    must be registered; `runAt`, `dependsOn` and `idempotencyKey` are not allowed),
    and belongs to the token's user and organization. `missedPolicy` says what a
    server that was down does with ticks it missed: `coalesce` (one run), `skip`
    or `all`."""
    schedule = await extras.schedules.add_schedule(who.user_id, who.organization_id, spec)
    return JSONResponse(schedule.to_api(), status_code=201)


@router.get(
    "/schedules/{ref}",
    response_model=schemas.ScheduleOut,
    responses=SCHEDULE_NOT_FOUND,
    tags=["schedules"],
    summary="Get a schedule",
)
async def get_schedule(ref: ScheduleRef, who: Principal, extras: ExtrasDep) -> JSONResponse:
    return JSONResponse((await extras.schedules.get_schedule(ref, who.scope)).to_api())


@router.patch(
    "/schedules/{ref}",
    response_model=schemas.ScheduleOut,
    responses={**BODY_ERRORS, **SCHEDULE_NOT_FOUND},
    tags=["schedules"],
    summary="Enable or disable a schedule",
)
async def set_schedule_enabled(
    ref: ScheduleRef, who: Principal, extras: ExtrasDep, body: Annotated[schemas.ScheduleStateIn, Body()]
) -> JSONResponse:
    """A schedule enabled again fires from its next tick on, not the ones it missed while off."""
    schedule = await extras.schedules.set_schedule_enabled(ref, body.enabled, who.scope)
    return JSONResponse(schedule.to_api())


@router.delete(
    "/schedules/{ref}",
    response_model=schemas.ScheduleOut,
    responses=SCHEDULE_NOT_FOUND,
    tags=["schedules"],
    summary="Remove a schedule",
)
async def remove_schedule(ref: ScheduleRef, who: Principal, extras: ExtrasDep) -> JSONResponse:
    """Answers with the schedule as it was; jobs it created stay."""
    return JSONResponse((await extras.schedules.remove_schedule(ref, who.scope)).to_api())


# -- notifications -----------------------------------------------------------------------------


@router.get(
    "/notification-rules",
    response_model=list[schemas.RuleOut],
    tags=["notifications"],
    summary="Notification rules",
)
async def list_rules(
    who: Principal,
    extras: ExtrasDep,
    job_type: Annotated[str | None, Query(alias="jobType", max_length=100)] = None,
) -> JSONResponse:
    rules = await extras.notifications.list_rules(who.scope, job_type)
    return JSONResponse([r.to_api() for r in rules])


@router.post(
    "/notification-rules",
    status_code=201,
    response_model=schemas.RuleOut,
    responses={**BODY_ERRORS, **_RULE_EXISTS},
    tags=["notifications"],
    summary="Add a notification rule",
)
async def add_rule(who: Principal, extras: ExtrasDep, spec: Annotated[RuleSpec, Body()]) -> JSONResponse:
    """Every job of `jobType` in the token's organization that ends with one of `events`
    (`completed`, `failed`; both by default) is announced on `channel` (`email`,
    `slack`, `discord`, `webhook`) to `target` (an address, or an http(s) URL)."""
    rule = await extras.notifications.add_rule(who.organization_id, spec)
    return JSONResponse(rule.to_api(), status_code=201)


@router.delete(
    "/notification-rules/{id}",
    response_model=schemas.RuleOut,
    responses=_RULE_NOT_FOUND,
    tags=["notifications"],
    summary="Remove a notification rule",
)
async def remove_rule(rule_id: RuleId, who: Principal, extras: ExtrasDep) -> JSONResponse:
    """Answers with the rule as it was; notifications already queued are still sent."""
    return JSONResponse((await extras.notifications.remove_rule(rule_id, who.scope)).to_api())


@router.get(
    "/jobs/{id}/notifications",
    response_model=list[schemas.NotificationOut],
    responses=NOT_FOUND,
    tags=["jobs"],
    summary="A job's notifications",
)
async def job_notifications(
    job_id: JobId, who: Principal, engine: EngineDep, extras: ExtrasDep
) -> JSONResponse:
    """What was (or will be) sent about the job's end, with each one's delivery status."""
    job = await engine.service.get_job(job_id, who.scope)  # 404 for another organization's
    return JSONResponse(await extras.notifications.job_notifications(job.id, who.scope))


# -- metrics -----------------------------------------------------------------------------------


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "the Prometheus text format",
            "content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
        },
        **AUTH_ERRORS,
        **FORBIDDEN,
    },
    summary="Prometheus metrics (admin)",
)
async def metrics(who: Admin, extras: ExtrasDep) -> Response:
    """Jobs by status and type, queue depths, run times, workers, dispatch lag, and this
    server's schedule runs and notifications. The numbers span every organization, so
    this needs an admin token: point Prometheus at it with
    `authorization: {credentials: <token>}` in the scrape config."""
    return Response(await extras.metrics.render(), media_type=CONTENT_TYPE)
