"""Job types: the `@job` decorator and the registry it fills.

Registering a type is pure bookkeeping. The server reads the registry to
validate creates; the worker runtime turns each entry into a Dramatiq actor.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from jobdesk.core.errors import InvalidJobData, UnknownJobType

Handler = Callable[..., Any]
_QUEUE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class JobDefinition:
    type: str
    handler: Handler
    queue: str
    max_attempts: int = 3
    backoff_base_s: float | None = None
    backoff_cap_s: float | None = None
    # `builtins.type`: in this class `type` names the field above.
    schema: builtins.type[BaseModel] | None = None
    description: str = ""

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.handler)

    def validate_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """Check data against the type's schema; the error names each bad field."""
        if self.schema is None:
            return data
        try:
            model = self.schema.model_validate(data)
        except ValidationError as exc:
            raise InvalidJobData(f"invalid data for {self.type!r}: {describe(exc)}") from None
        return model.model_dump(mode="json", exclude_unset=False)


def describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


class Registry:
    def __init__(self) -> None:
        self._types: dict[str, JobDefinition] = {}

    def add(self, definition: JobDefinition) -> None:
        existing = self._types.get(definition.type)
        if existing is not None and existing.handler is not definition.handler:
            raise ValueError(f"job type {definition.type!r} is registered twice")
        self._types[definition.type] = definition

    def get(self, job_type: str) -> JobDefinition:
        try:
            return self._types[job_type]
        except KeyError:
            raise UnknownJobType(job_type, list(self._types)) from None

    def __contains__(self, job_type: object) -> bool:
        return job_type in self._types

    def __iter__(self) -> Iterator[JobDefinition]:
        return iter(sorted(self._types.values(), key=lambda d: d.type))

    def types(self) -> list[str]:
        return sorted(self._types)

    def queues(self) -> list[str]:
        return sorted({d.queue for d in self._types.values()})


registry = Registry()


def job(
    job_type: str,
    *,
    queue: str | None = None,
    max_attempts: int = 3,
    backoff_base: float | None = None,
    backoff_cap: float | None = None,
    schema: type[BaseModel] | None = None,
) -> Callable[[Handler], Handler]:
    """Register `handler(ctx, data)` as the code that runs jobs of `job_type`.

    Each type gets a queue of its own unless `queue` names a shared one.
    `backoff_base`/`backoff_cap` (seconds) shape the retry delays of this type.
    """
    queue_name = queue or job_type
    if not _QUEUE_NAME.match(queue_name):
        raise ValueError(f"queue name {queue_name!r} must match {_QUEUE_NAME.pattern}")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")

    def register(handler: Handler) -> Handler:
        registry.add(
            JobDefinition(
                type=job_type,
                handler=handler,
                queue=queue_name,
                max_attempts=max_attempts,
                backoff_base_s=backoff_base,
                backoff_cap_s=backoff_cap,
                schema=schema,
                description=(inspect.getdoc(handler) or "").split("\n")[0],
            )
        )
        return handler

    return register


BUILTIN_MODULES = (
    "jobdesk.workers.data_conversion",
    "jobdesk.workers.document_processing",
    "jobdesk.workers.model_training",
    "jobdesk.workers.fine_tuning",
    "jobdesk.workers.workflow_execution",
    "jobdesk.workers.bulk_operation",
)


def load_job_modules(modules: list[str], *, builtins: bool = True) -> Registry:
    """Import the built-in job types and the user's modules; return the registry."""
    names = [*(BUILTIN_MODULES if builtins else ()), *modules]
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if builtins and name in BUILTIN_MODULES and exc.name == name:
                continue  # a built-in type not shipped in this build
            raise ImportError(f"cannot import job module {name!r}: {exc}") from exc
    return registry
