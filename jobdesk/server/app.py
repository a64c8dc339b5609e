"""The FastAPI application over a running engine."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from jobdesk.core.registry import Registry
from jobdesk.server import errors, flow, jobs, system
from jobdesk.server import extras as extras_routes
from jobdesk.server.auth import Authenticator
from jobdesk.server.options import BODY_MAX_BYTES
from jobdesk.service.engine import Engine
from jobdesk.service.extras import Extras

DESCRIPTION = """\
Jobs for an organization: create, follow, cancel and retry them.

Every route but `/api/health` needs `Authorization: Bearer <token>` (from
`jobdesk token create`). A member's token sees its organization's jobs, an
admin's token all of them. Errors are `{"error": {"code", "message"}}`.
Live events are on the WebSocket gateway, `ws://HOST:3001/jobs?token=...`.
Prometheus metrics are at `/metrics` (admin token).
"""


def create_app(
    engine: Engine,
    auth: Authenticator,
    *,
    extras: Extras | None = None,
    body_max_bytes: int = BODY_MAX_BYTES,
) -> FastAPI:
    """The app; without `extras`, the schedule, notification and metrics routes answer 503."""
    app = FastAPI(
        title="jobdesk",
        description=DESCRIPTION,
        version=system.version(),
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.auth = auth
    app.state.extras = extras
    errors.install(app)
    app.include_router(jobs.router)
    app.include_router(flow.router)
    app.include_router(extras_routes.router)
    app.include_router(system.router)
    app.include_router(extras_routes.metrics_router)
    app.add_middleware(errors.BodyLimit, max_bytes=body_max_bytes)
    _name_job_types(app, engine.registry)
    return app


def _name_job_types(app: FastAPI, registry: Registry) -> None:
    """List the registered job types as the create request's `type` enum.

    The document then tells a client (and schemathesis) which types exist; their
    data schemas are at `GET /api/job-types`.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            spec = schema.get("components", {}).get("schemas", {}).get("JobSpec", {})
            if "type" in spec.get("properties", {}) and registry.types():
                spec["properties"]["type"]["enum"] = registry.types()
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]
