"""jobdesk: a job manager with PostgreSQL as the truth and Dramatiq as the transport.

What a job author needs is re-exported here.
"""

from jobdesk.core.context import JobContext
from jobdesk.core.errors import JobCancelled, JobdeskError
from jobdesk.core.registry import job

__all__ = [
    # writing jobs
    "JobCancelled",
    "JobContext",
    "job",
    # errors
    "JobdeskError",
]
