"""Every error jobdesk raises on purpose, in one tree.

Each class carries the HTTP status and code the server maps it to, so the
mapping lives with the meaning instead of in a table that drifts.
"""

from __future__ import annotations


class JobdeskError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(JobdeskError):
    status = 422
    code = "invalid_input"


class UnknownJobType(InvalidInput):
    code = "unknown_job_type"

    def __init__(self, job_type: str, known: list[str]) -> None:
        known_list = ", ".join(sorted(known)) or "none registered"
        super().__init__(f"unknown job type {job_type!r} (known: {known_list})")
        self.job_type = job_type


class InvalidJobData(InvalidInput):
    code = "invalid_job_data"


class NotFound(JobdeskError):
    status = 404
    code = "not_found"


class JobNotFound(NotFound):
    code = "job_not_found"

    def __init__(self, job_id: object) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class Conflict(JobdeskError):
    status = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class Unauthorized(JobdeskError):
    status = 401
    code = "unauthorized"


class Forbidden(JobdeskError):
    status = 403
    code = "forbidden"


class ServiceUnavailable(JobdeskError):
    status = 503
    code = "service_unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"


class BrokerUnavailable(ServiceUnavailable):
    code = "broker_unavailable"


class JobCancelled(BaseException):
    """Raised inside a handler once its job is cancelled.

    A BaseException, like KeyboardInterrupt, so that a handler's broad
    `except Exception` cannot swallow a cancellation.
    """
