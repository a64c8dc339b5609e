"""Turning a create request into a validated new job, before anything is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from jobdesk.core.errors import InvalidInput
from jobdesk.core.registry import Registry, describe
from jobdesk.core.spec import JobSpec


@dataclass(frozen=True, slots=True)
class NewJob:
    type: str
    name: str
    queue: str
    user_id: str
    organization_id: str
    data: dict[str, Any]
    priority: int = 0
    max_attempts: int = 3
    backoff_base_ms: int = 1000
    backoff_cap_ms: int = 300_000
    description: str | None = None
    run_at: datetime | None = None
    depends_on: tuple[str, ...] = ()
    idempotency_key: str | None = None
    dependency_policy: str = "fail"
    # [{channel, target, events}], as validated by JobSpec; empty: none of its own.
    notify: tuple[dict[str, Any], ...] = ()
    parent_id: str | None = None
    batch_id: str | None = None


@dataclass(frozen=True, slots=True)
class Defaults:
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0


def parse_spec(raw: JobSpec | dict[str, Any]) -> JobSpec:
    if isinstance(raw, JobSpec):
        return raw
    if not isinstance(raw, dict):
        raise InvalidInput("a job must be a JSON object")
    try:
        return JobSpec.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(f"invalid job: {describe(exc)}") from None


def prepare(
    raw: JobSpec | dict[str, Any],
    user_id: str,
    organization_id: str,
    registry: Registry,
    defaults: Defaults = Defaults(),
    *,
    parent_id: str | None = None,
    batch_id: str | None = None,
) -> NewJob:
    """Validate a request against the registry; raises an InvalidInput subclass."""
    if not user_id or not organization_id:
        raise InvalidInput("a job needs a user id and an organization id")
    spec = parse_spec(raw)
    definition = registry.get(spec.type)
    data = definition.validate_data(spec.data)
    base = definition.backoff_base_s if definition.backoff_base_s is not None else defaults.backoff_base_s
    cap = definition.backoff_cap_s if definition.backoff_cap_s is not None else defaults.backoff_cap_s
    return NewJob(
        type=spec.type,
        name=spec.name or spec.type,
        description=spec.description,
        queue=definition.queue,
        user_id=user_id,
        organization_id=organization_id,
        data=data,
        priority=spec.priority,
        max_attempts=spec.max_attempts or definition.max_attempts,
        backoff_base_ms=int(base * 1000),
        backoff_cap_ms=int(cap * 1000),
        run_at=spec.run_at,
        depends_on=tuple(spec.depends_on),
        idempotency_key=spec.idempotency_key,
        dependency_policy=spec.dependency_policy,
        notify=tuple(n.model_dump() for n in spec.notify),
        parent_id=parent_id,
        batch_id=batch_id,
    )
