"""What a caller may ask for when it creates a job, validated before anything is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobdesk.core.jobs import MAX_ATTEMPTS_LIMIT, PRIORITY_MAX, PRIORITY_MIN
from jobdesk.core.notify import NOTIFY_MAX, NotifyTarget

NAME_MAX = 200
RUN_AT_MIN = datetime(1970, 1, 1, tzinfo=UTC)
RUN_AT_MAX = datetime(9000, 1, 1, tzinfo=UTC)
DESCRIPTION_MAX = 2000


class JobSpec(BaseModel):
    """The create request: the contract's fields, camelCase or snake_case.

    Unknown fields are rejected, so a client that tries to set `status`,
    `attempts`, `result`, `userId` or `organizationId` hears about it.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    type: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str | None = Field(default=None, max_length=NAME_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    data: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=PRIORITY_MIN, le=PRIORITY_MAX)
    max_attempts: int | None = Field(default=None, ge=1, le=MAX_ATTEMPTS_LIMIT, alias="maxAttempts")
    run_at: datetime | None = Field(default=None, alias="runAt")
    depends_on: list[str] = Field(default_factory=list, alias="dependsOn", max_length=100)
    idempotency_key: str | None = Field(default=None, alias="idempotencyKey", min_length=1, max_length=200)
    # What this job does when a job it depends on fails or is cancelled.
    dependency_policy: Literal["fail", "cancel"] = Field(default="fail", alias="dependencyPolicy")
    # Announce this job's end by email or webhook (besides any rules for its type).
    notify: list[NotifyTarget] = Field(default_factory=list, max_length=NOTIFY_MAX)

    @field_validator("data", mode="before")
    @classmethod
    def _data_is_object(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("data must be a JSON object")
        return value

    @field_validator("depends_on")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("run_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return value
        if value.tzinfo is None:
            raise ValueError("runAt needs a time zone (e.g. 2026-12-01T10:00:00Z)")
        # Far ends of the calendar survive a round trip through PostgreSQL only
        # in some time zones; nobody schedules work there.
        if not RUN_AT_MIN <= value <= RUN_AT_MAX:
            raise ValueError("runAt must be between 1970 and 9000")
        return value
